"""The alembic revisions shipped in the package, without a database."""

from alembic import script as alembic_script

from ceilometer_ha.storage import migration


def _revisions():
    scripts = alembic_script.ScriptDirectory.from_config(migration._config())
    return list(scripts.walk_revisions())


def test_revision_ids_fit_the_version_table():
    # alembic's version table holds VARCHAR(32); MySQL refuses longer
    # ids when it records the revision, SQLite does not.
    ids = [script.revision for script in _revisions()]
    assert ids and all(len(rev) <= 32 for rev in ids), ids


def test_revisions_form_one_line_to_the_head():
    revisions = _revisions()
    assert revisions[0].revision == migration.head_revision()
    assert revisions[-1].down_revision is None
    for newer, older in zip(revisions, revisions[1:], strict=False):
        assert newer.down_revision == older.revision
