"""Which variant a person gets: the journeys' split hash on ``f"{salt}:{person}"``.

``journeys/split.py``'s ``unit_point`` (blake2b, 8 bytes, onto [0, 1)) is the one hash
of the project: a journey's holdout and an experiment's variants are drawn the same way,
so the same person always lands in the same variant in every process, with no state.
"""

from __future__ import annotations

from omnichannel.analytics.experiments.definition import ExperimentDefinition
from omnichannel.errors import ValidationError
from omnichannel.journeys.split import unit_point


def variant_for(definition: ExperimentDefinition, person: str) -> str:
    """The variant ``person`` is given: variants laid out on [0, 1) by weight, in order.

    >>> from omnichannel.analytics.experiments.definition import parse_experiment
    >>> e = parse_experiment({"name": "x", "variants": [{"name": "a"}, {"name": "b"}]})
    >>> variant_for(e, "42") == variant_for(e, "42")
    True
    """
    if not isinstance(person, str) or not person.strip() or len(person) > 300:
        raise ValidationError("person", person, "a profile id or identifier of 1-300 characters")
    point = unit_point(f"{definition.key_salt}:{person}")
    total = sum(v.weight for v in definition.variants)
    edge = 0.0
    for variant in definition.variants:
        edge += variant.weight / total
        if point < edge:
            return variant.name
    return definition.variants[-1].name  # rounding may leave a sliver under 1
