#!/usr/bin/env bash
# System packages ipvalue's reports and their tests use (Debian / Ubuntu):
#   fonts-noto-cjk          Chinese glyphs in the PDF text and in the charts
#   fontconfig              fc-list, the report's second route to find the CJK font
#   libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0   text layout for WeasyPrint (PDF writer)
#   poppler-utils           pdftoppm / pdftotext, used by the tests to open the PDF
#   chromium                headless browser, used by the tests to load the HTML report and to drive the workbench (Playwright)
#   postgresql              the server store's database; the tests start a throwaway cluster of their own
#                           (initdb / pg_ctl under /usr/lib/postgresql/<version>/bin, as an unprivileged user)
set -euo pipefail
PKGS=(fonts-noto-cjk fontconfig libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils chromium postgresql)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
