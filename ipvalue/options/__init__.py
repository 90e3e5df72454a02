"""Option pricing kernels: Black-Scholes, the Cox-Ross-Rubinstein lattice and Longstaff-Schwartz Monte Carlo.

Pure numpy (with ``scipy.special.ndtr`` for the normal distribution). Every kernel broadcasts its numeric
arguments: scalars in give a float out, arrays in give an array of the broadcast shape out.
"""

from ipvalue.options._binomial import binomial
from ipvalue.options._black_scholes import black_scholes
from ipvalue.options._inputs import OptionInputError
from ipvalue.options._lsm import LSMResult, lsm

__all__ = ["black_scholes", "binomial", "lsm", "LSMResult", "OptionInputError"]
