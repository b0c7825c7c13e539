"""Moving a table's own id sequence forward, on either database."""

from __future__ import annotations

from django.db import connection, models


def advance_table_ids(model: type[models.Model], past: int) -> None:
    """Make the next id the database hands out for ``model`` greater than ``past``
    (never move it back): ids another system gave out stay theirs alone."""
    if past < 1:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            (sequence,) = cursor.fetchone()
            # ``sequence`` is already a quoted, schema-qualified name.
            used = "CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
            current = f"SELECT {used} FROM {sequence}"
            cursor.execute(
                f"SELECT setval(%s::regclass, GREATEST(%s, ({current})))", [sequence, past]
            )
        elif connection.vendor == "sqlite":
            # AUTOINCREMENT: the next id is above both sqlite_sequence and the largest id.
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT %s, %s"
                " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)",
                [table, past, table],
            )
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = %s AND seq < %s",
                [past, table, past],
            )
        else:
            raise ValueError(f"unsupported database {connection.vendor}")
