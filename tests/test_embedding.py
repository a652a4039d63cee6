"""The embedding models: the int8 ONNX export against torch, the registry, the fine-tuned model."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import MODEL
from ingest.embedding import MODELS, get_embedder, weights_digest
from ingest.errors import IngestError

SENTENCES = [
    "We retain your uploaded images for 30 days and then delete them.",
    "Your prompts may be used to improve and train our models.",
    "We do not sell your personal information to third parties.",
    "Data is stored on servers located in the United States.",
    "Contact privacy@example.com with any questions about this policy.",
]


@pytest.fixture(scope="module")
def torch_model():
    """The shipped embedder's own weights, run by torch: what its int8 export must agree with."""
    return get_embedder(MODEL, "torch")


def test_onnx_int8_agrees_with_torch(embedder, torch_model):
    onnx = embedder.embed_passages(SENTENCES)
    ref = torch_model.embed_passages(SENTENCES)
    assert onnx.shape == ref.shape == (len(SENTENCES), 384)
    cosines = (onnx * ref).sum(axis=1)  # both are L2-normalised
    # int8 weights with per-channel scales move a vector a little (measured 0.991-0.994 on
    # these; per-tensor scales gave 0.944-0.975); what retrieval needs is that the geometry
    # holds: each int8 vector is nearest its own torch vector, and similarities agree
    assert cosines.mean() > 0.985 and cosines.min() > 0.98, cosines
    assert ((onnx @ ref.T).argmax(axis=1) == np.arange(len(SENTENCES))).all()
    assert np.abs(onnx @ onnx.T - ref @ ref.T).max() < 0.05
    # dynamic int8 quantises activations per batch, so a text's vector depends slightly on
    # its batch mates (measured 0.991 between alone and in this batch)
    query = embedder.embed_query(SENTENCES[0])
    assert float(query @ onnx[0]) > 0.97


def test_int8_weights_are_unsigned_so_every_cpu_sums_them_alike(embedder):
    """u8 activations times s8 weights are summed in saturating 16-bit pairs on CPUs without
    VNNI and exactly on CPUs with it, so the same export answered differently on two machines;
    u8 x u8 is exact everywhere (ingest.embedding.ONNX_EXPORT)."""
    import onnx

    graph = onnx.load(str(embedder._onnx_file)).graph
    weights = {t.name: t.data_type for t in graph.initializer}
    products = [n for n in graph.node if n.op_type == "MatMulInteger"]
    assert len(products) >= 36  # 6 layers x (q, k, v, out, up, down)
    assert {weights[n.input[1]] for n in products} == {onnx.TensorProto.UINT8}


def test_unknown_model_lists_every_known_name():
    with pytest.raises(IngestError) as err:
        get_embedder("no-such-model", "onnx-int8")
    message = str(err.value)
    assert "'no-such-model'" in message
    for model, backend in MODELS:
        assert f"{model} ({backend})" in message
    assert "POLICYQA_MODEL" in message


def test_missing_finetuned_folder_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_MODEL_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(IngestError, match="finetune_embedder.py"):
        get_embedder("policyqa-minilm", "torch")


@pytest.fixture(scope="module")
def finetuned_folder(tmp_path_factory):
    """A folder in the fine-tuned model's format (a sentence-transformers folder, as
    benchmarks/finetune_embedder.py writes it): here a copy of the bundled weights, since no
    fine-tuned model ships."""
    import shutil

    from ingest.embedding import minilm_path

    return shutil.copytree(minilm_path(), tmp_path_factory.mktemp("ft") / "policyqa-minilm")


@pytest.mark.parametrize("backend", ["onnx-int8", "torch"])
def test_a_finetuned_folder_named_by_the_setting_is_loaded(backend, finetuned_folder, monkeypatch):
    monkeypatch.setenv("POLICYQA_MODEL_DIR", str(finetuned_folder))
    emb = get_embedder("policyqa-minilm", backend)
    digest = weights_digest(finetuned_folder)
    assert emb.name.startswith(f"policyqa-minilm@{digest}") and emb.name.rsplit("/", 1)[1].startswith(backend)
    assert emb.dim == 384
    passages = ["We keep your account data for two years after you close your account.",
                "Our offices are open Monday to Friday.",
                "We use cookies to remember your language preference."]
    vecs = emb.embed_passages(passages)
    scores = vecs @ emb.embed_query("How long is user data retained?")
    assert int(np.argmax(scores)) == 0, scores


def test_a_store_built_with_other_weights_is_seen_to_differ(finetuned_folder, tmp_path, monkeypatch):
    """The store records the folder's weights digest, as the embedder names itself: a store
    embedded by other weights of the same model name is refused, not mixed."""
    import shutil

    from ingest.pipeline import fingerprint, open_store

    monkeypatch.setenv("POLICYQA_MODEL_DIR", str(finetuned_folder))
    assert fingerprint("policyqa-minilm", "onnx-int8")["model"] == get_embedder("policyqa-minilm", "onnx-int8").name
    store = open_store(tmp_path / "store", "policyqa-minilm", "torch")
    store.put_many([])  # an empty store still records how it was built
    retrained = shutil.copytree(finetuned_folder, tmp_path / "retrained")
    (retrained / "model.safetensors").write_bytes((retrained / "model.safetensors").read_bytes() + b" ")
    monkeypatch.setenv("POLICYQA_MODEL_DIR", str(retrained))
    assert "policyqa-minilm@" in open_store(tmp_path / "store", "policyqa-minilm", "torch").stale_reason()
