"""After side_effect: upgraded A -> B with a backup, then the broken C was rolled back to B with B's data."""

from __future__ import annotations

import hashlib
import json
import shlex

from gateway_fixtures import EPHEMERAL

APP_DIR = "/var/lib/bifrost"
INSTALL_DIR = "/usr/local/lib/bifrost"


def marker(host, path) -> str:
    """The marker row of a SQLite store that prepare.yml / side_effect.yml wrote (the stores are real databases)."""
    script = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT text FROM marker').fetchone()[0])"
    return host.check_output("python3 -c %s %s" % (shlex.quote(script), shlex.quote(path)))


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_version_b_serves(host):
    assert json.loads(host.check_output("curl -sf http://127.0.0.1:8080/api/version")) == "v2.2.6-standin"


def test_the_play_failed_on_the_broken_version_with_a_clear_message():
    message = (EPHEMERAL / "upgrade-failure.txt").read_text()
    for part in ("from v2.2.6-standin to v2.2.7-standin FAILED", "Rolled back", "the previous version is healthy again",
                 "virtual keys refused on /anthropic/v1/models: alice, carol"):
        assert part in message, (part, message)


def test_version_record_and_binaries_are_b(host, gw):
    expected = sha256_of(gw["binary_src_path"])
    assert json.loads(host.file(INSTALL_DIR + "/installed.json").content_string) == {
        "version": "v2.2.6-standin", "sha256": expected}
    assert host.file(INSTALL_DIR + "/bifrost-http").sha256sum == expected
    # The failed upgrade kept B as the previous binary before installing C.
    assert host.file(INSTALL_DIR + "/bifrost-http.previous").sha256sum == expected


def test_data_of_b_was_restored_after_the_broken_migration(host):
    assert marker(host, APP_DIR + "/config.db") == "config store of v2.2.6-standin"


def backups(host) -> dict:
    names = host.check_output("ls -1 %s/backup" % APP_DIR).split()
    return {name.rsplit("-", 1)[0]: "%s/backup/%s" % (APP_DIR, name) for name in names}


def test_each_upgrade_backed_up_the_databases_first(host):
    found = backups(host)
    assert sorted(found) == ["v2.2.5-standin", "v2.2.6-standin"], found
    assert marker(host, found["v2.2.5-standin"] + "/config.db") == "config store of v2.2.5-standin"
    assert marker(host, found["v2.2.5-standin"] + "/logs.db") == "logs store of v2.2.5-standin"
    assert marker(host, found["v2.2.6-standin"] + "/config.db") == "config store of v2.2.6-standin"
    directory = host.file("%s/backup" % APP_DIR)
    assert host.file(found["v2.2.6-standin"]).mode == 0o700 and directory.exists


def test_journal_shows_the_broken_start_and_the_rollback(host):
    journal = host.check_output("journalctl -u bifrost --no-pager -o cat")
    assert "v2.2.7-standin" in journal, "the broken release started (and was healthy: only the contract check caught it)"
    assert journal.rindex("v2.2.6-standin") > journal.rindex("v2.2.7-standin")
