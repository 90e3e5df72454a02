"""The error tree of ipvalue: catch one class, read every problem.

::

    IpvalueError                      anything ipvalue raises on purpose
    ├── InputError (also ValueError)  bad input; ``problems`` lists (patent, field, message) for every one found
    │   ├── PatentNumberError, PortfolioError, TermError, QualityInputError, QualityTreeError,
    │   │   OptionInputError > RealOptionInputError, ValuationInputError, CollateralInputError, PolicyError,
    │   │   BulkFormatError
    └── DataSourceError               a patent service could not answer (``data_sources``)

Every specific error keeps its own constructor and attributes; all of them also carry the same structured
``problems``, so a command line, a service or a notebook reports them in one way. The errors pickle intact, so
they cross process and cluster boundaries (the process-pool and Dask backends).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

__all__ = ["IpvalueError", "InputError", "Problem"]

E = TypeVar("E", bound="InputError")


class Problem(NamedTuple):
    """One problem with the input: which patent (None for a whole-input problem), which field, what is wrong."""

    patent: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return self.message


def rebuild_error(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """Unpickle an ipvalue error without calling its constructor (constructors differ between the errors)."""
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class IpvalueError(Exception):
    """The root of every error ipvalue raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (rebuild_error, (type(self), self.args, dict(self.__dict__)))


def _as_problem(item: Problem | tuple[Any, ...] | str) -> Problem:
    if isinstance(item, Problem):
        return item
    if isinstance(item, str):
        return Problem(None, None, item)
    patent, field, message = item
    return Problem(
        None if patent is None else str(patent), None if field is None else str(field), str(message)
    )


def summarise(problems: list[Problem], limit: int = 20) -> str:
    """The problems in one line each, at most ``limit`` of them, then how many more."""
    lines = [p.message for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return "; ".join(lines)


class InputError(IpvalueError, ValueError):
    """Bad input: every problem found, each naming the patent (when one is to blame) and the field.

    Parameters
    ----------
    problems : iterable of Problem, of (patent, field, message) tuples, or a message
        What is wrong.
    message : str, optional
        The text of the error; by default the problems' messages joined.

    Attributes
    ----------
    problems : list of Problem
    """

    def __init__(self, problems: Iterable[Problem | tuple[Any, ...]] | str, *, message: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(None, None, problems)]
        self.problems: list[Problem] = [_as_problem(p) for p in problems]
        super().__init__(message if message is not None else summarise(self.problems))

    @classmethod
    def from_problems(cls: type[E], problems: Iterable[Problem | tuple[Any, ...]]) -> E:
        """An error of this class holding ``problems``, whatever the class's own constructor takes."""
        err = cls.__new__(cls)
        InputError.__init__(err, problems)
        return err

    @property
    def patent_ids(self) -> list[str]:
        """The patents named by the problems, each once, in order."""
        return list(dict.fromkeys(p.patent for p in self.problems if p.patent is not None))

    @property
    def first(self) -> Problem | None:
        """The first problem (None when there is none)."""
        return self.problems[0] if self.problems else None
