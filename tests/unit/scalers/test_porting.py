"""The README's "Porting from KEDA" section is generated from the registry and stays so."""

from __future__ import annotations

from pathlib import Path

from scalers.contract import ScalerConfig, ScaleTrigger
from scalers.porting import BEGIN, END, KEDA_TRIGGER_TYPES, porting_section, update_readme
from scalers.registry import ScalerRegistry, builtin_factories

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_section_is_up_to_date() -> None:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text
    assert END in text
    assert update_readme(text) == text, "run: python -m scalers.porting README.md"


def _implemented(section: str) -> str:
    return section.split("implemented:")[1].split(";")[0]


def test_the_section_follows_the_registry() -> None:
    """A newly registered KEDA type moves from "not implemented" to "implemented"."""

    class Rabbit:
        trigger_types = ("rabbitmq",)

        def parse(self, trigger: ScaleTrigger, *args: object, **kwargs: object) -> ScalerConfig:
            return ScalerConfig()

        def build(self, config: ScalerConfig, env: object) -> object:
            raise NotImplementedError

    registry = ScalerRegistry(builtin_factories())
    before = porting_section(registry)
    registry.register("rabbitmq", Rabbit())  # type: ignore[arg-type]
    after = porting_section(registry)
    assert "`rabbitmq`" not in _implemented(before)
    assert "`rabbitmq`" in _implemented(after)
    assert f"7 of KEDA's {len(KEDA_TRIGGER_TYPES)}" in after.replace("\n  ", " ")
