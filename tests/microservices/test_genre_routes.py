"""A genre route (base + LoRA adapter in the registry) served end to end by a
microservice that also serves its base from the same model copy."""
import json

import httpx
import websockets
import yaml

from tests.microservices.test_adapters import TARGETS, make_adapter, peft_greedy
from tests.support.services import start_microservice
from tests.support.tiny_models import tiny_registry_data

PROMPT = "The ship sailed north until"


async def test_base_and_genre_routes_on_one_instance(tiny_dir, tmp_path):
    adapter = make_adapter(tiny_dir / "tiny-llama", tmp_path / "sea-shanty", 7, 4, TARGETS["llama"])
    data = tiny_registry_data(tiny_dir)
    data["models"]["sea-shanty"] = {"name": "Sea shanties", "genre": "lyrics", "base": "tiny-llama",
                                    "adapter": {"path": str(adapter)}}
    data["instances"] = [{"id": "mixed-1", "port": 1, "routes": ["tiny-llama", "sea-shanty"]}]
    data["models"]["tiny-llama"]["compile_decode"] = "on"  # decode steps through the compiled graph, both kinds of row
    reg = tmp_path / "models.yaml"
    reg.write_text(yaml.safe_dump(data))
    ms = start_microservice(reg, "mixed-1")
    try:
        assert {m["id"] for m in httpx.get(f"{ms.url}/v1/models").json()["data"]} == {"tiny-llama", "sea-shanty"}
        assert httpx.get(f"{ms.url}/sea-shanty/health").status_code == 200
        texts = {}
        async with websockets.connect(f"ws://127.0.0.1:{ms.port}/sea-shanty/ws") as ws:
            for route in ("tiny-llama", "sea-shanty"):  # one socket may ask any route this instance serves
                await ws.send(json.dumps({"type": "generate", "id": route, "model": route, "prompt": PROMPT,
                                          "params": {"max_tokens": 12, "temperature": 0}}))
            done = 0
            while done < 2:
                m = json.loads(await ws.recv())
                if m["type"] == "token":
                    texts[m["id"]] = texts.get(m["id"], "") + m["text"]
                else:
                    assert m["type"] == "done"
                    done += 1
        assert texts["sea-shanty"] == peft_greedy(tiny_dir / "tiny-llama", adapter, 12)
        assert texts["tiny-llama"] == peft_greedy(tiny_dir / "tiny-llama", None, 12)
        assert ms.metric("writeup_generated_tokens_total", route="sea-shanty") == 12
        # every decode step ran compiled (11 a request; two requests may share steps)
        assert ms.metric("writeup_compiled_decode_steps_total", outcome="ran") >= 11
        assert ms.metric("writeup_compiled_decode_steps_total", outcome="eager") == 0
    finally:
        ms.stop()
