"""The deltamesh command: keygen, status over the node's encrypted transport, status of a dir."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crdts import ORSet
from sync import Node
from sync._cli import _status_of_node, main
from sync._keyfile import read_key_file

from ._helpers import config


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_keygen_writes_an_owner_only_key(tmp_path: Path) -> None:
    f = tmp_path / "k.key"
    assert main(["keygen", str(f)]) == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and len(read_key_file(f)) == 32
    assert main(["keygen", str(f)]) == 1  # never overwrites a key


@pytest.mark.anyio
async def test_status_over_the_wire_and_of_a_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k.key"
    main(["keygen", str(key)])
    async with Node(config("a", key=None, key_file=key, data_dir=tmp_path / "a")) as a:
        await a.get("s", ORSet).add("x")
        status = await _status_of_node(a.address, str(key), 5.0)
        assert status["name"] == "a" and status["objects"] == 1
        assert status["members"] == [["a", a.address, "alive", 0]]
        with pytest.raises(Exception):
            await _status_of_node(a.address, None, 5.0)  # plaintext is refused
    capsys.readouterr()
    assert main(["status", "--data-dir", str(tmp_path / "a"), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"objects": 1' in out and '"name": "a"' in out
