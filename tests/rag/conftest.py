"""RAG fixtures: tiny random BERT encoders with a real WordPiece tokenizer, and a small labelled corpus.

The BERT folders stand in for MedCPT / Contriever / SPECTER2 (same architecture, random weights); the SGPT
preset uses the shared tiny Llama decoder (``tiny_model_dir`` from the top-level conftest).
"""

from __future__ import annotations

import pytest

SENTENCES = [
    "Invasive ductal carcinoma of the left breast, grade 2, measuring 2.3 cm. ER positive, HER2 negative.",
    "Lung adenocarcinoma, right upper lobe, EGFR exon 19 deletion detected. pT1a N0.",
    "Colon, sigmoid, resection: moderately differentiated adenocarcinoma invading the muscularis propria. pT2 N1.",
    "Clear cell renal cell carcinoma, Fuhrman grade 3, kidney, pT3a.",
    "Glioblastoma, WHO grade IV, with necrosis and microvascular proliferation.",
    "Prostate adenocarcinoma, Gleason score 3+4=7, pT2c N0.",
]


def build_wordpiece(tmp_dir):
    """A real BERT-style tokenizer ([CLS] text [SEP]) trained in milliseconds on the sentences above."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(SENTENCES * 3, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials,
                                                                    show_progress=False))
    cls, sep = wp.token_to_id("[CLS]"), wp.token_to_id("[SEP]")
    wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls),
                                                                                               ("[SEP]", sep)])
    tok = PreTrainedTokenizerFast(tokenizer_object=wp, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                  sep_token="[SEP]", mask_token="[MASK]")
    tok.model_max_length = 128
    return tok


def make_bert_dir(path, seed: int = 0, layers: int = 2):
    """Save a tiny random BertModel (32-dim) and its tokenizer into ``path``; returns the path."""
    import torch
    from transformers import BertConfig, BertModel

    tok = build_wordpiece(path)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    return make_bert_dir(tmp_path_factory.mktemp("tiny-bert"), seed=0)


@pytest.fixture(scope="session")
def bert_dir_b(tmp_path_factory):
    """A second tiny BERT with other weights (MedCPT's query encoder; encoder-mismatch tests)."""
    return make_bert_dir(tmp_path_factory.mktemp("tiny-bert-b"), seed=1)


@pytest.fixture()
def corpus(tmp_path):
    """Six labelled notes of five patients as Note JSONL; returns (path, notes).

    d0 and d5 share patient p0; d4 (GBM) has no diagnosis and no stage mention.
    """
    from cancerllm.data.io import write_jsonl
    from cancerllm.data.schema import Diagnosis, Mention, Note

    notes = []
    for i, sent in enumerate(SENTENCES):
        text = f"Surgical pathology report {i}. Specimen received in formalin. {sent} Margins negative."
        mentions = []
        for stage in ("pT1a", "pT2c", "pT2", "pT3a"):
            if stage in text:
                s = text.index(stage)
                mentions.append(Mention(type="stage_t", text=stage, start=s, end=s + len(stage), value=stage[1:3]))
                break
        notes.append(Note(id=f"d{i}", text=text, patient_id=f"p{min(i, 4) if i != 5 else 0}", mentions=mentions,
                          cancer_type=["BRCA", "LUAD", "COAD", "KIRC", "GBM", "PRAD"][i],
                          diagnosis=Diagnosis(text="malignant neoplasm", icd10="C80.1") if i != 4 else None))
    path = write_jsonl(notes, tmp_path / "train.jsonl")
    return path, notes
