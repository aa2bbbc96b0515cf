"""srs_tf.cli: flags derived from config dataclasses and their docstrings."""

import dataclasses

import pytest
from absl import flags

from srs_tf.cli import define_dataclass_flags, field_docs
from srs_tf.data.demo.generate import DemoConfig
from srs_tf.model_config import SRSConfig
from srs_tf.run_config import TrainConfig


@dataclasses.dataclass
class Example:
    """An example config.

    Attributes:
      path: where it goes.
      steps: how many steps; a long description that
        continues on a second line.
      rate: the rate.
      mode: "a" or "b".
      verbose: print more.

    Returns nothing (this is not part of the section).
    """

    path: str
    steps: int = 3
    rate: float = 0.5
    mode: str = "a"
    verbose: bool = False


def test_field_docs_reads_the_attributes_section():
    docs = field_docs(Example)
    assert list(docs) == ["path", "steps", "rate", "mode", "verbose"]
    assert docs["steps"] == "how many steps; a long description that continues on a second line."


def test_flags_take_name_type_default_choices_and_required():
    values = flags.FlagValues()
    names = define_dataclass_flags(
        Example, choices={"mode": ("a", "b")}, required=("path",), flag_values=values
    )
    assert names == ("path", "steps", "rate", "mode", "verbose")
    values(["prog", "--path=/x", "--steps=7", "--mode=b", "--verbose"])
    assert (values.path, values.steps, values.rate, values.mode, values.verbose) == (
        "/x",
        7,
        0.5,
        "b",
        True,
    )
    assert values["steps"].help.startswith("how many steps")
    with pytest.raises(flags.IllegalFlagValueError):
        values["mode"].parse("c")
    missing = flags.FlagValues()
    define_dataclass_flags(Example, required=("path",), flag_values=missing)
    with pytest.raises(flags.IllegalFlagValueError, match="path"):
        missing(["prog"])


def test_an_undocumented_field_or_odd_type_is_refused():
    @dataclasses.dataclass
    class Undocumented:
        """Attributes:
        a: documented.
        """

        a: int = 1
        b: int = 2

    with pytest.raises(ValueError, match="Undocumented.b has no line"):
        define_dataclass_flags(Undocumented, flag_values=flags.FlagValues())

    @dataclasses.dataclass
    class Odd:
        """Attributes:
        a: a list.
        """

        a: list = dataclasses.field(default_factory=list)

    with pytest.raises(ValueError, match="no flag type"):
        define_dataclass_flags(Odd, flag_values=flags.FlagValues())


@pytest.mark.parametrize("cls", [TrainConfig, SRSConfig, DemoConfig])
def test_every_config_field_is_documented(cls):
    assert set(field_docs(cls)) >= {f.name for f in dataclasses.fields(cls)}
