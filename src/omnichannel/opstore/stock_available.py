"""The triggers that keep ``stock_available`` (per SKU and location kind, the units that
can be promised) in the transaction that changes a level, on SQLite and PostgreSQL.

Available-to-promise of a whole catalogue summed every level on each call: 10 s for
10,000 SKUs x 200 locations on SQLite, against a target of 1 s for 100,000 x 200. The
sums are kept instead, by triggers on ``stock_levels`` and ``stock_locations``, so every
writer (the reservation hot path, stock files, the ORM, a bare ``INSERT``) keeps them,
and no code path can forget to. Triggers, not code: the write paths are many and a
missed one would make the catalogue's figure wrong without any error.

A level counts ``max(0, on_hand - reserved - safety_stock)`` toward its location's kind.
A location's levels move with it when its kind changes, and leave before it is deleted
(its levels go by ``ON DELETE CASCADE``, when the location is no longer there to say
which kind they counted toward).

Used by revision 0020 and by a fresh store made from the models (``migrate.py``); a
later change to them needs a revision of its own that drops and recreates them.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# The same statements on both engines, but for the function that floors at 0.
_ADD_LEVEL = """
  INSERT INTO stock_available (sku, kind, units, levels)
  SELECT NEW.sku, p.kind, {floor}(NEW.on_hand - NEW.reserved - NEW.safety_stock, 0), 1
  FROM stock_locations p WHERE p.location_id = NEW.location_id
  ON CONFLICT (sku, kind) DO UPDATE
  SET units = stock_available.units + excluded.units, levels = stock_available.levels + 1;
"""
_REMOVE_LEVEL = """
  UPDATE stock_available
  SET units = units - {floor}(OLD.on_hand - OLD.reserved - OLD.safety_stock, 0),
      levels = levels - 1
  WHERE sku = OLD.sku
    AND kind = (SELECT kind FROM stock_locations WHERE location_id = OLD.location_id);
"""
_CHANGE_LEVEL = """
  UPDATE stock_available
  SET units = units + {floor}(NEW.on_hand - NEW.reserved - NEW.safety_stock, 0)
                    - {floor}(OLD.on_hand - OLD.reserved - OLD.safety_stock, 0)
  WHERE sku = NEW.sku
    AND kind = (SELECT kind FROM stock_locations WHERE location_id = NEW.location_id);
"""
# A location's levels, counted toward ``{row}.kind`` or taken from it.
_ADD_LOCATION = """
  INSERT INTO stock_available (sku, kind, units, levels)
  SELECT l.sku, {row}.kind, sum({floor}(l.on_hand - l.reserved - l.safety_stock, 0)), count(*)
  FROM stock_levels l WHERE l.location_id = {row}.location_id GROUP BY l.sku
  ON CONFLICT (sku, kind) DO UPDATE
  SET units = stock_available.units + excluded.units,
      levels = stock_available.levels + excluded.levels;
"""
_REMOVE_LOCATION = """
  UPDATE stock_available
  SET units = units - (SELECT {floor}(l.on_hand - l.reserved - l.safety_stock, 0)
                       FROM stock_levels l
                       WHERE l.location_id = {row}.location_id
                         AND l.sku = stock_available.sku),
      levels = levels - 1
  WHERE kind = {row}.kind
    AND sku IN (SELECT sku FROM stock_levels WHERE location_id = {row}.location_id);
"""
_BACKFILL = """
INSERT INTO stock_available (sku, kind, units, levels)
SELECT l.sku, p.kind, sum({floor}(l.on_hand - l.reserved - l.safety_stock, 0)), count(*)
FROM stock_levels l JOIN stock_locations p ON p.location_id = l.location_id
GROUP BY l.sku, p.kind
"""
_SAME_ROW = "OLD.sku = NEW.sku AND OLD.location_id = NEW.location_id"
_LEVEL_COLUMNS = "on_hand, reserved, safety_stock, sku, location_id"


def sqlite_triggers() -> list[str]:
    f = {"floor": "max"}
    return [
        "CREATE TRIGGER stock_available_level_insert AFTER INSERT ON stock_levels\n"
        f"BEGIN {_ADD_LEVEL.format(**f)} END",
        "CREATE TRIGGER stock_available_level_delete AFTER DELETE ON stock_levels\n"
        f"BEGIN {_REMOVE_LEVEL.format(**f)} END",
        f"CREATE TRIGGER stock_available_level_change AFTER UPDATE OF {_LEVEL_COLUMNS}\n"
        f"ON stock_levels WHEN {_SAME_ROW}\n"
        f"BEGIN {_CHANGE_LEVEL.format(**f)} END",
        f"CREATE TRIGGER stock_available_level_move AFTER UPDATE OF {_LEVEL_COLUMNS}\n"
        f"ON stock_levels WHEN NOT ({_SAME_ROW})\n"
        f"BEGIN {_REMOVE_LEVEL.format(**f)} {_ADD_LEVEL.format(**f)} END",
        "CREATE TRIGGER stock_available_location_insert AFTER INSERT ON stock_locations\n"
        f"BEGIN {_ADD_LOCATION.format(row='NEW', **f)} END",
        "CREATE TRIGGER stock_available_location_kind AFTER UPDATE OF kind ON stock_locations\n"
        "WHEN OLD.kind <> NEW.kind\n"
        f"BEGIN {_REMOVE_LOCATION.format(row='OLD', **f)} "
        f"{_ADD_LOCATION.format(row='NEW', **f)} END",
        "CREATE TRIGGER stock_available_location_delete BEFORE DELETE ON stock_locations\n"
        f"BEGIN {_REMOVE_LOCATION.format(row='OLD', **f)} END",
    ]


def postgres_triggers() -> list[str]:
    f = {"floor": "GREATEST"}
    level = f"""
CREATE FUNCTION stock_available_level() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND {_SAME_ROW} THEN
    {_CHANGE_LEVEL.format(**f)}
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_REMOVE_LEVEL.format(**f)} END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN {_ADD_LEVEL.format(**f)} END IF;
  RETURN NULL;
END $$"""
    location = f"""
CREATE FUNCTION stock_available_location() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_ADD_LOCATION.format(row="NEW", **f)}
    RETURN NEW;
  END IF;
  IF TG_OP = 'DELETE' THEN
    {_REMOVE_LOCATION.format(row="OLD", **f)}
    RETURN OLD;
  END IF;
  IF OLD.kind <> NEW.kind THEN
    {_REMOVE_LOCATION.format(row="OLD", **f)}
    {_ADD_LOCATION.format(row="NEW", **f)}
  END IF;
  RETURN NEW;
END $$"""
    return [
        level,
        location,
        f"CREATE TRIGGER stock_available_level AFTER INSERT OR DELETE OR UPDATE OF "
        f"{_LEVEL_COLUMNS} ON stock_levels FOR EACH ROW EXECUTE FUNCTION stock_available_level()",
        "CREATE TRIGGER stock_available_location_change AFTER INSERT OR UPDATE OF kind "
        "ON stock_locations FOR EACH ROW EXECUTE FUNCTION stock_available_location()",
        # Before: its levels go by cascade once it is gone, when no row says their kind.
        "CREATE TRIGGER stock_available_location_delete BEFORE DELETE ON stock_locations "
        "FOR EACH ROW EXECUTE FUNCTION stock_available_location()",
    ]


def create(connection: Connection, *, backfill: bool) -> None:
    """The triggers (and, with ``backfill``, the sums of the levels already stored)."""
    postgres = connection.dialect.name == "postgresql"
    if backfill:
        connection.execute(text(_BACKFILL.format(floor="GREATEST" if postgres else "max")))
    for statement in postgres_triggers() if postgres else sqlite_triggers():
        connection.exec_driver_sql(statement)


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        for statement in (
            "DROP TRIGGER IF EXISTS stock_available_level ON stock_levels",
            "DROP TRIGGER IF EXISTS stock_available_location_change ON stock_locations",
            "DROP TRIGGER IF EXISTS stock_available_location_delete ON stock_locations",
            "DROP FUNCTION IF EXISTS stock_available_level()",
            "DROP FUNCTION IF EXISTS stock_available_location()",
        ):
            connection.exec_driver_sql(statement)
        return
    for name in SQLITE_TRIGGERS:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


SQLITE_TRIGGERS = tuple(
    f"stock_available_{name}"
    for name in (
        "level_insert",
        "level_delete",
        "level_change",
        "level_move",
        "location_insert",
        "location_kind",
        "location_delete",
    )
)
