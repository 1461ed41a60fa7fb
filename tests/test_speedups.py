"""scripts/speedups.py's off switches: each names what the code has, or fails loudly.

A switch that set a misspelled or renamed attribute used to succeed, so the "off" run measured
the speed-up still on (and called it a 0 % gain)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _speedups():
    spec = importlib.util.spec_from_file_location("speedups", ROOT / "scripts" / "speedups.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


speedups = _speedups()


class Base:
    def method(self):
        return "base"


class Thing(Base):
    flag = None  # a value of None is still a value to put back

    def __init__(self):
        self.own = "own"


def test_patching_a_name_that_does_not_exist_fails_loudly():
    thing = Thing()
    with pytest.raises(AttributeError, match="'renamed'"), speedups._patched(thing, "renamed", 1):
        pytest.fail("entered the block")
    with pytest.raises(AttributeError), speedups._patched(Thing, "methd", lambda self: "off"):
        pytest.fail("entered the block")
    assert not hasattr(thing, "renamed")
    assert not hasattr(Thing, "methd")


def test_what_was_patched_is_put_back_as_it_was():
    thing = Thing()
    with (
        speedups._patched(thing, "own", "patched"),
        speedups._patched(thing, "method", lambda: "off"),  # the class's, shadowed on the object
        speedups._patched(Thing, "flag", True),
    ):
        assert (thing.own, thing.method(), Thing.flag) == ("patched", "off", True)
    assert (thing.own, thing.method(), Thing.flag) == ("own", "base", None)
    assert "method" not in vars(thing)
    assert "flag" in vars(Thing)  # the old code deleted an attribute whose value was None


@pytest.mark.django_db(transaction=True)  # two switches reconnect
@pytest.mark.parametrize("name", list(speedups.SPEEDUPS))
def test_every_off_switch_names_what_the_code_has(name):
    """A rename in the service fails here, in the suite, not in a benchmark run."""
    _where, *switches = speedups.SPEEDUPS[name]
    for switch in switches:
        with switch():
            pass
