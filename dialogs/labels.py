"""Names for lens ids across lens versions, for counts that outlive the lens they were counted under.

The local picture adds counts per month by id (signal, indicator, leefgebied, phenomenon) and keeps
them through lens edits and the retention purge, so a counted id may have left the current lens: a
signal removed, or replaced by one with a new id. `LensLabels` names every id and never raises:

1. the current lens has it: its current wording (one id stays one line, counts stay comparable);
2. an older lens version that was counted has it: that version's wording, marked "(lens 1.0)";
3. a current signal names it in `split_from`: the id with what took its meaning over;
4. otherwise the id itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.models import Text


@dataclass(frozen=True)
class LensLabels:
    current: Lens
    older: tuple[Lens, ...] = ()      # newest first; the current lens among them is skipped

    @classmethod
    def of(cls, current: Lens, older: Iterable[Lens] = ()) -> LensLabels:
        return cls(current, tuple(lens for lens in older if lens.version != current.version))

    # -- per kind of id ------------------------------------------------------------------------
    def question(self, item: str, lang: str) -> str:
        """A signal or red flag by its question."""
        return self._name(item, lang, lambda lens: lens.question_text(item) if item in lens.question_index else None,
                          split=True)

    def indicator(self, indicator_id: str, lang: str) -> str:
        return self._name(indicator_id, lang, lambda lens: _name_of(lens.indicators.get(indicator_id)))

    def leefgebied(self, lg_id: str, lang: str) -> str:
        return self._name(lg_id, lang, lambda lens: _name_of(lens.leefgebied_by_id.get(lg_id)))

    def phenomenon(self, phenomenon_id: str, lang: str) -> str:
        return self._name(phenomenon_id, lang, lambda lens: _name_of(lens.phenomena.get(phenomenon_id)))

    def vignette(self, vignette_id: str, lang: str) -> str:
        return self._name(vignette_id, lang, lambda lens: getattr(lens.vignettes.get(vignette_id), "title", None))

    def seen_by(self, signal: str, lang: str) -> str:
        """Who usually sees a signal, from the lens version that has it; "" when none does."""
        for lens in (self.current, *self.older):
            if signal in lens.signal_indicator:
                ind = lens.indicators[lens.signal_indicator[signal]]
                return ", ".join(lens.viewers[v].name.get(lang) for v in ind.seen_by if v in lens.viewers)
        return ""

    # -- the look-up ---------------------------------------------------------------------------
    def _name(self, key: str, lang: str, text_in: Callable[[Lens], Text | None], split: bool = False) -> str:
        t = dialog_texts()
        text = text_in(self.current)
        if text is not None:
            return self.current.say(text, lang)
        for lens in self.older:
            text = text_in(lens)
            if text is not None:
                return t("labels.former", lang, label=lens.say(text, lang), version=lens.meta.version)
        if split:
            successor = next((s for s in self.current.signals.values() if key in s.split_from), None)
            if successor is not None:
                return t("labels.split", lang, id=key, now=self.current.say(successor.question, lang))
        return key


def _name_of(item: Any) -> Text | None:
    return None if item is None else item.name


__all__ = ["LensLabels"]
