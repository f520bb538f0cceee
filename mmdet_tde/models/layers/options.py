"""Validation of the classifier's options, shared by the layers, the configs and the tools.

NaN fails every comparison and inf passes ``> 0``: a range check alone lets both through, and
either one turns every score into NaN or zero without an error. A string such as ``'off'`` for a
bool option is truthy and would silently mean True.
"""
import math
import numbers

# name -> (low, high, low_open, high_open); None means unbounded.
RANGES = dict(tau=(0, None, True, False), gamma=(0, None, False, False),
              alpha=(0, None, False, False), momentum=(0, 1, False, True))
BOOLS = ('use_tde', 'background_exempted')


def _interval(low, high, low_open, high_open) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_option(name: str, value):
    """``value`` of the option ``name`` (a float or a bool), or an error that names the option."""
    if name in BOOLS:
        if not isinstance(value, bool):
            raise TypeError(f'{name} must be a bool (True or False), got {value!r}')
        return value
    return check_number(name, value, *RANGES[name])


def check_number(name: str, value, low, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a float if it is a finite number in the interval, else an error naming it.

    Not a number (a bool included): TypeError; NaN, inf or outside the interval: ValueError.
    """
    expected = f'{name} must be a finite number {_interval(low, high, low_open, high_open)}'
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{expected}, got {value!r}')
    value = float(value)
    inside = (math.isfinite(value) and (value > low if low_open else value >= low)
              and (high is None or (value < high if high_open else value <= high)))
    if not inside:
        raise ValueError(f'{expected}, got {value}')
    return value


def check_positive_int(name: str, value) -> int:
    """``value`` if it is an int >= 1 (bools refused), else a ValueError that names it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')
    return value
