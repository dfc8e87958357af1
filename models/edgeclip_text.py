"""Tokenizer construction for edgeclip exports (no network needed).

Three tokenizer families are built here:

* CLIP byte-level BPE from the *real* CLIP vocabulary that ships inside the
  ``open_clip_torch`` package (``bpe_simple_vocab_16e6.txt.gz``).
* SigLIP-style SentencePiece unigram models trained on a deterministic,
  generated corpus, wrapped in transformers' slow ``SiglipTokenizer``, plus a
  converter that writes a ``tokenizer.json`` reproducing that slow tokenizer.
* BERT-style uncased WordPiece vocabularies (ALIGN) trained on the same corpus.

The corpus is generated from data that ships with installed packages (ImageNet
class names and prompt templates from open_clip, words decoded from the CLIP
BPE merges) combined by a seeded PRNG, so every build is reproducible.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import random
import re
import string
import sys
from pathlib import Path

# --------------------------------------------------------------------------
# Data that ships with open_clip (read without importing open_clip/torch)
# --------------------------------------------------------------------------


def open_clip_dir() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the open_clip_torch package is not installed; it ships the CLIP BPE vocabulary "
            "(pip install -r models/requirements.txt)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def clip_bpe_path() -> Path:
    p = open_clip_dir() / "bpe_simple_vocab_16e6.txt.gz"
    if not p.is_file():
        raise RuntimeError(f"CLIP BPE vocabulary not found at {p}")
    return p


def _zero_shot_metadata():
    path = open_clip_dir() / "zero_shot_metadata.py"
    spec = importlib.util.spec_from_file_location("_edgeclip_oc_zsm", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def imagenet_classnames() -> list[str]:
    return list(_zero_shot_metadata().IMAGENET_CLASSNAMES)


def imagenet_templates() -> list[str]:
    """Prompt templates as ``str.format`` patterns with one ``{}``."""
    return [t("{}") for t in _zero_shot_metadata().OPENAI_IMAGENET_TEMPLATES]


def gpt2_byte_alphabet() -> dict[int, str]:
    """Byte -> printable character table used by byte-level BPE (GPT-2/CLIP).

    Printable Latin-1 bytes map to themselves; the remaining 68 bytes are
    mapped, in increasing byte order, to code points 256, 257, ...
    """
    keep = [b for b in range(256) if (0x21 <= b <= 0x7E) or (0xA1 <= b <= 0xAC) or (0xAE <= b <= 0xFF)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    # order: the kept bytes first (in increasing order) then the remapped ones,
    # which is the order the CLIP vocabulary lists them in
    ordered = {b: table[b] for b in keep}
    ordered.update({b: table[b] for b in range(256) if b not in ordered})
    return ordered


CLIP_NUM_MERGES = 49152 - 256 - 2  # merges[1 : 49152-256-2+1] in the BPE file
CLIP_BOS = "<|startoftext|>"
CLIP_EOS = "<|endoftext|>"


def clip_bpe_merges() -> list[tuple[str, str]]:
    with gzip.open(clip_bpe_path(), "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    # first line is a version header
    lines = lines[1 : CLIP_NUM_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    if len(merges) != CLIP_NUM_MERGES or any(len(m) != 2 for m in merges):
        raise RuntimeError("unexpected CLIP BPE file layout")
    return merges


def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    merges = clip_bpe_merges()
    chars = list(gpt2_byte_alphabet().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + [CLIP_BOS, CLIP_EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != 49408:
        raise RuntimeError(f"CLIP vocabulary has {len(vocab)} entries, expected 49408")
    return vocab, merges


def clip_words(limit: int | None = None) -> list[str]:
    """Whole words from the CLIP BPE merges, decoded to text, in merge order."""
    inv = {c: b for b, c in gpt2_byte_alphabet().items()}
    out, seen = [], set()
    for a, b in clip_bpe_merges():
        tok = a + b
        if not tok.endswith("</w>"):
            continue
        try:
            word = bytes(inv[c] for c in tok[:-4]).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue
        if len(word) < 2 or not all(ch.isalpha() for ch in word) or word in seen:
            continue
        seen.add(word)
        out.append(word)
        if limit and len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------
# Deterministic corpus
# --------------------------------------------------------------------------

_COLOURS = "red orange yellow green blue purple pink brown black white grey gray golden silver dark light pale bright".split()
_SIZES = "small big large tiny huge little giant young old new".split()
_PLACES = (
    "beach forest city street kitchen garden desert mountain river lake field park road bridge market "
    "office classroom museum farm snow water grass sky table sofa bed window airport station harbour"
).split()
_VERBS = "sitting standing running lying sleeping eating playing walking flying swimming jumping resting".split()
_PREPS = "on in near under behind beside above".split() + ["next to", "in front of"]
_UNITS = "km kg cm mm m g l ml h min s px mph kmh".split()
_EXTRA_LINES = [
    # accented / non-English words and short phrases so that common
    # non-ASCII characters are in the vocabularies
    "café crème brûlée naïve façade résumé déjà vu jalapeño piñata über straße",
    "ångström øre łódź señor niño mañana coöperate zoë françois",
    "猫 狗 鸟 鱼 马 车 树 花 山 水 人 我 你 他 的 是 在 有 大 小 中 日 本 国",
    "東京 大阪 写真 ねこ いぬ さくら カメラ テスト",
    "고양이 강아지 사진 한국",
    "قطة كلب صورة بيت شمس",
    "кошка собака фото дом солнце мир привет",
    "γάτα σκύλος φωτογραφία ελληνικά",
    "शहर बिल्ली कुत्ता",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14 50% 1/2",
]


def corpus_lines(seed: int = 0, n_captions: int = 30000, n_words: int = 40000) -> list[str]:
    """A deterministic English-centric caption corpus (plus some other scripts)."""
    rng = random.Random(seed)
    classes = imagenet_classnames()
    templates = imagenet_templates()
    words = clip_words(n_words)
    lines: list[str] = []
    lines.extend(classes)
    lines.extend(t.format(c) for c in classes for t in templates[:3])
    lines.extend(_EXTRA_LINES * 20)
    # word list, a dozen words per line
    for i in range(0, len(words), 12):
        lines.append(" ".join(words[i : i + 12]))
    # frequent words appear more often (merge order ~ frequency)
    head = words[:5000]
    for _ in range(n_captions):
        kind = rng.random()
        c = rng.choice(classes)
        if kind < 0.35:
            line = rng.choice(templates).format(c)
        elif kind < 0.7:
            line = "a {} {} {} {} {} the {}".format(
                rng.choice(_SIZES), rng.choice(_COLOURS), c, rng.choice(_VERBS), rng.choice(_PREPS), rng.choice(_PLACES)
            )
        elif kind < 0.8:
            line = "{} {} {} and {} {}".format(
                rng.randint(0, 999), rng.choice(_UNITS), rng.choice(head), rng.randint(1, 60), rng.choice(_UNITS)
            )
        else:
            k = rng.randint(4, 14)
            line = " ".join(rng.choice(head) if rng.random() < 0.8 else rng.choice(words) for _ in range(k))
        if rng.random() < 0.3:
            line = line.capitalize()
        lines.append(line)
    return lines


# --------------------------------------------------------------------------
# CLIP
# --------------------------------------------------------------------------


def build_clip_tokenizer(workdir: Path, context_length: int = 77):
    """CLIPTokenizerFast (and the slow CLIPTokenizer) from the real CLIP BPE vocabulary."""
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    vocab, merges = clip_vocab_and_merges()
    workdir.mkdir(parents=True, exist_ok=True)
    vocab_file = workdir / "vocab.json"
    merges_file = workdir / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    kw = dict(model_max_length=context_length, bos_token=CLIP_BOS, eos_token=CLIP_EOS, unk_token=CLIP_EOS, pad_token=CLIP_EOS)
    slow = CLIPTokenizer(str(vocab_file), str(merges_file), **kw)
    fast = CLIPTokenizerFast(str(vocab_file), str(merges_file), **kw)
    return fast, slow


# --------------------------------------------------------------------------
# SigLIP (SentencePiece unigram + slow SiglipTokenizer)
# --------------------------------------------------------------------------

SIGLIP_PAD, SIGLIP_EOS, SIGLIP_UNK = "<pad>", "</s>", "<unk>"


def _siglip_canonical(line: str) -> str:
    line = line.lower().translate(str.maketrans("", "", string.punctuation))
    return re.sub(r"\s+", " ", line).strip()


def train_siglip_spm(vocab_size: int, seed: int = 0) -> bytes:
    """Train a unigram SentencePiece model laid out like the T5/SigLIP one.

    ids: 0 <pad>, 1 </s>, 2 <unk>; no BOS; nmt_nfkc normalisation. The corpus is
    canonicalised the way SiglipTokenizer canonicalises its input.
    ``hard_vocab_limit`` is off, so a corpus too small for ``vocab_size`` gives a
    smaller vocabulary instead of failing: callers must read the real size.
    """
    import sentencepiece as spm

    lines = [_siglip_canonical(x) for x in corpus_lines(seed=seed)]
    lines = [x for x in lines if x]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=0.9995,
        pad_id=0,
        pad_piece=SIGLIP_PAD,
        eos_id=1,
        eos_piece=SIGLIP_EOS,
        unk_id=2,
        unk_piece=SIGLIP_UNK,
        bos_id=-1,
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        minloglevel=2,
    )
    return model.getvalue()


def build_siglip_tokenizer(workdir: Path, vocab_size: int, seed: int = 0, context_length: int = 64):
    from transformers import SiglipTokenizer

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "spiece.model"
    path.write_bytes(train_siglip_spm(vocab_size, seed=seed))
    return SiglipTokenizer(str(path), model_max_length=context_length)


def python_whitespace_class() -> str:
    """A regex character class matching exactly what Python's ``\\s`` / str.isspace match."""
    cps = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    return "[" + "".join(f"\\x{{{c:X}}}" for c in cps) + "]"


def siglip_tokenizer_json(slow) -> str:
    """Build a tokenizers ``tokenizer.json`` that reproduces ``SiglipTokenizer`` (slow).

    What the slow tokenizer does (transformers 4.57, tokenization_siglip.py):
      1. ``"▁" + text.replace("▁", " ")``
      2. lower-case every character (PreTrainedTokenizer.tokenize, do_lower_case=True;
         it lower-cases one character at a time and skips newlines, which are whitespace anyway)
      3. split out special tokens (lstrip/rstrip, not normalised)
      4. per chunk, ``canonicalize_text``: delete ``string.punctuation`` (ASCII only),
         ``re.sub(r"\\s+", " ")`` (Python's Unicode notion of whitespace), ``strip()``
      5. SentencePiece with add_dummy_prefix forced off: nmt_nfkc charsmap, extra
         whitespace removal, spaces -> "▁", unigram Viterbi; then ``</s>`` appended.
    SentencePiece treats the leading ``"▁"`` like a space: it merges with following
    whitespace and disappears when nothing follows (``""``, ``"  "`` and ``"!!!"`` give
    no pieces). So the text is normalised with both ends stripped and ``"▁"`` is then
    prepended when something is left (``Prepend`` skips empty strings), and Metaspace
    only splits.

    Known, unavoidable differences (tokenizers normalises each segment between
    special tokens separately and cannot tell the first one from the others):
      * text *after* a literal special token (``"x </s> y"``): the slow tokenizer
        encodes ``"y"`` without a word-start ``"▁"``, tokenizer.json with one;
      * text *ending* with a literal ``"</s>"``: the slow tokenizer does not append a
        second ``</s>`` (``_add_eos_if_not_present``), tokenizer.json always does;
      * the slow tokenizer lower-cases before splitting special tokens, so ``"</S>"``
        becomes the special ``</s>``; tokenizer.json matches special tokens exactly.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(Path(slow.vocab_file).read_bytes())
    if proto.trainer_spec.model_type != 1:
        raise ValueError("SigLIP tokenizer conversion supports unigram SentencePiece models only")
    if proto.trainer_spec.byte_fallback:
        raise ValueError("byte_fallback SentencePiece models are not supported by this converter")
    ns = proto.normalizer_spec
    vocab = [(p.piece, p.score) for p in proto.pieces]
    tok = Tokenizer(Unigram(vocab, unk_id=proto.trainer_spec.unk_id, byte_fallback=False))

    punct = "[" + re.escape(string.punctuation) + "]"
    ws = python_whitespace_class()
    seq = [normalizers.Replace("\u2581", " ")]
    if getattr(slow, "do_lower_case", True):
        seq.append(normalizers.Lowercase())
    seq += [
        normalizers.Replace(Regex(punct), ""),
        normalizers.Replace(Regex(ws + "+"), " "),
        normalizers.Strip(left=True, right=True),
    ]
    if ns.precompiled_charsmap:
        # tokenizers' Precompiled normaliser looks graphemes shorter than 6 bytes up as a
        # whole and, when only a prefix is in the table (e.g. "e\u0301" of
        # "e\u0301\u0302"), replaces the whole grapheme by the prefix's mapping and drops
        # the rest; SentencePiece continues after the prefix. Composing first (NFC)
        # removes most such prefixes; NFKC(NFC(x)) == NFKC(x) so nothing else changes.
        seq.append(normalizers.NFC())
        seq.append(normalizers.Precompiled(ns.precompiled_charsmap))
    if ns.remove_extra_whitespaces:
        seq += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip(left=True, right=True)]
    seq.append(normalizers.Prepend("\u2581"))
    tok.normalizer = normalizers.Sequence(seq)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    eos = slow.eos_token
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, slow.convert_tokens_to_ids(eos))]
    )
    specials = []
    for tid, added in sorted(slow.added_tokens_decoder.items()):
        specials.append(
            AddedToken(added.content, single_word=added.single_word, lstrip=added.lstrip, rstrip=added.rstrip,
                       normalized=False, special=True)
        )
    tok.add_special_tokens(specials)
    return tok.to_str()


# --------------------------------------------------------------------------
# ALIGN (BERT uncased WordPiece)
# --------------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_vocab(vocab_size: int, seed: int = 0) -> list[str]:
    """An uncased WordPiece vocabulary with bert-base-uncased's special-token layout.

    ids 0 [PAD], 1..99 [unused0..98], 100 [UNK], 101 [CLS], 102 [SEP], 103 [MASK], then
    every character of the corpus and its ``##`` form, then the most frequent whole
    words and the most frequent word endings (``##ing``...). Built by counting (ties
    broken by the string) rather than with the tokenizers trainer, whose merge ties
    depend on hash order: the result is identical on every run.
    """
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter = Counter()
    for line in corpus_lines(seed=seed):
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)):
            words[w] += 1
    chars: Counter = Counter()
    for w, n in words.items():
        for ch in w:
            chars[ch] += n
    for ch in string.ascii_lowercase + string.digits + string.punctuation:
        chars[ch] += 0
    head = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    char_list = [c for c, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))]
    vocab = head + char_list + ["##" + c for c in char_list]
    seen = set(vocab)
    budget = max(vocab_size - len(vocab), 0)
    suffixes: Counter = Counter()
    for w, n in words.items():
        for i in range(1, len(w)):
            if 2 <= len(w) - i <= 6:
                suffixes["##" + w[i:]] += n
    ranked_words = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1]
    ranked_suffixes = [p for p, _ in sorted(suffixes.items(), key=lambda kv: (-kv[1], kv[0]))]
    n_suffix = budget * 3 // 10
    for piece in ranked_suffixes[:n_suffix] + ranked_words:
        if len(vocab) >= vocab_size:
            break
        if piece not in seen:
            seen.add(piece)
            vocab.append(piece)
    return vocab


def build_bert_tokenizer(workdir: Path, vocab_size: int, seed: int = 0, context_length: int = 64):
    from transformers import BertTokenizer, BertTokenizerFast

    workdir.mkdir(parents=True, exist_ok=True)
    vocab_file = workdir / "vocab.txt"
    vocab_file.write_text("\n".join(train_wordpiece_vocab(vocab_size, seed=seed)) + "\n", encoding="utf-8")
    fast = BertTokenizerFast(str(vocab_file), do_lower_case=True, model_max_length=context_length)
    slow = BertTokenizer(str(vocab_file), do_lower_case=True, model_max_length=context_length)
    return fast, slow


# --------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------


def compare_tokenizers(texts: list[str], a, b, context_length: int) -> list[dict]:
    """Texts whose input_ids differ between two tokenizers (HF-style call or tokenizers.Tokenizer)."""

    def ids(tok, text):
        if hasattr(tok, "encode_batch"):  # raw tokenizers.Tokenizer: no padding, compare the real tokens
            tok.no_padding()
            tok.enable_truncation(context_length)
            return tok.encode(text).ids
        return list(tok(text, max_length=context_length, truncation=True)["input_ids"])

    diffs = []
    for t in texts:
        x, y = ids(a, t), ids(b, t)
        if x != y:
            diffs.append({"text": t, "a": x, "b": y})
    return diffs


# --------------------------------------------------------------------------
# Hard texts (written to tests/fixtures/texts.json by make_fixtures.py)
# --------------------------------------------------------------------------

_LONG_CAPTION = (
    "A wide panoramic photograph of a quiet mountain valley at dawn, with a winding river reflecting the pale "
    "pink sky, a small wooden cabin with smoke rising from its chimney, three horses grazing on the frosty "
    "grass near a fence, tall pine trees covered in fresh snow, distant jagged peaks glowing orange where the "
    "first sunlight touches them, a narrow dirt road leading towards a stone bridge, and a flock of birds "
    "flying in a loose V formation above the misty lake while a hiker in a red jacket watches from a rocky ledge."
)
_MEDIUM_CAPTION = (
    "a close up photo of a tabby cat sleeping on a blue sofa next to a stack of old books, a cup of coffee, "
    "a pair of reading glasses, a green plant in a clay pot, a knitted blanket and a sunny window with "
    "white curtains in the background of the living room"
)

# (category, text). Categories are informational only.
HARD_TEXTS: list[tuple[str, str]] = [
    ("plain", "a photo of a cat."),
    ("plain", "a photo of a dog"),
    ("case", "A PHOTO OF A DOG!!!"),
    ("case", "ThE qUiCk BrOwN fOx JuMpS"),
    ("case", "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG"),
    ("apostrophe", "it's a dog; it isn't a cat, don't you think?"),
    ("apostrophe", "don't won't can't shouldn't y'all I'm you're we've they'll she'd"),
    ("apostrophe", "IT'S DON'T I'LL WE'D"),
    ("quotes", "\u201cSmart quotes\u201d and \u2018single quotes\u2019 and it\u2019s"),
    ("quotes", "\"double\" 'single' `backtick` \u00abguillemets\u00bb \u201elow\u201c"),
    ("punct", "!!!???...,,,;;;:::"),
    ("punct", "---___***###@@@$$$%%%^^^&&&"),
    ("punct", "wait... what?! (really) [yes] {no} <maybe>"),
    ("punct", "a photo of a {} ."),
    ("punct", "\u2014em dash\u2013en dash\u2026ellipsis\u00b7middle dot"),
    ("accents", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 co\u00f6perate fa\u00e7ade"),
    ("accents", "nai\u0308ve cafe\u0301 (decomposed, NFD)"),
    ("accents", "\u00c5ngstr\u00f6m \u00d8resund \u0141\u00f3d\u017a \u015awi\u0119tokrzyskie"),
    ("accents", "\u00c0\u00c9\u00ce\u00d5\u00dc \u00e0\u00e9\u00ee\u00f5\u00fc \u00c7\u00d1 \u00e7\u00f1 \u00df \u1e9e"),
    ("accents", "ma\u00f1ana, el ni\u00f1o comi\u00f3 jalape\u00f1os"),
    ("accents", "Stra\u00dfe gro\u00df Ma\u00df STRASSE"),
    ("combining", "e\u0301\u0302\u0303\u0304 stacked combining marks a\u0323\u0307"),
    ("case", "\u0130stanbul ISTANBUL \u0131i"),
    ("greek", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u039f\u0394\u039f\u03a3 \u03c3\u03bf\u03c6\u03af\u03b1"),
    ("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u041a\u043e\u0448\u043a\u0430 \u0438 \u0441\u043e\u0431\u0430\u043a\u0430."),
    ("cjk", "\u6211\u7231\u6211\u7684\u732b"),
    ("cjk", "\u6771\u4eac\u30bf\u30ef\u30fc\u306e\u591c\u666f\u3092\u64ae\u3063\u305f\u5199\u771f"),
    ("cjk", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \ud14c\uc2a4\ud2b8"),
    ("rtl", "\u0642\u0637\u0629 \u0633\u0648\u062f\u0627\u0621 \u0639\u0644\u0649 \u0627\u0644\u0633\u0637\u062d"),
    ("rtl", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd"),
    ("indic", "\u0939\u093f\u0928\u094d\u0926\u0940 \u092a\u093e\u0920"),
    ("thai", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e07\u0e48\u0e32\u0e22"),
    ("mixed-script", "Hello\u4e16\u754c\u0645\u0631\u062d\u0628\u0627\u041f\u0440\u0438\u0432\u0435\u0442"),
    ("emoji", "\U0001f431\U0001f436\U0001f697"),
    ("emoji", "a cat \U0001f63a on a mat \U0001f9f6"),
    ("emoji-zwj", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family"),
    ("emoji-skin", "\U0001f44d\U0001f3fd thumbs up \U0001f44b\U0001f3ff"),
    ("emoji-zwj", "\U0001f3f3\ufe0f\u200d\U0001f308 flag and \U0001f9d1\U0001f3fb\u200d\U0001f4bb coder"),
    ("emoji", "\u2764\ufe0f \u2600 \u263a\ufe0f text-vs-emoji presentation"),
    ("numbers", "3.14159 2,000,000 1e-5 -42 +7 50%"),
    ("numbers", "12km/h 5\u00b0C 100m\u00b2 3kg 2.5L $9.99 \u20ac5 \u00a33 \u00a5100"),
    ("numbers", "12345678901234567890"),
    ("nfkc", "\u00bd \u00bc \u00be \u00b2 \u00b3 \u2178 \u216b \u2460\u2461\u2462"),
    ("nfkc", "\ufb01ne \ufb02ow \ufb00 \u2122 \u2116"),
    ("nfkc", "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48\u3000\uff34\uff25\uff38\uff34\u3000\uff11\uff12\uff13\uff01"),
    ("whitespace", "\ttabs\tbetween\twords\t"),
    ("whitespace", "line one\nline two\r\nline three"),
    ("whitespace", "multiple     spaces     here"),
    ("whitespace", "   leading and trailing spaces   "),
    ("whitespace", "\u00a0non-breaking\u00a0spaces\u202fnarrow\u2009thin"),
    ("whitespace", "zero\u200bwidth\u200bspace and soft\u00adhyphen"),
    ("whitespace", "\u3000ideographic\u3000space\u3000"),
    ("whitespace", "\x1c\x1d\x1e\x1f information separators \x85next line"),
    ("whitespace", "\u200fRTL mark\u200e LTR mark \ufeffBOM inside"),
    ("control", "bell\x07 and escape\x1b[0m codes"),
    ("empty", ""),
    ("empty", " "),
    ("empty", "\n\t \n"),
    ("short", "."),
    ("short", "a"),
    ("short", "\U0001f431"),
    ("html", "Tom &amp; Jerry &lt;3 &quot;cheese&quot; &#39;quoted&#39; &eacute;t&eacute;"),
    ("html", "<b>bold</b> <img src=\"x.png\" alt='cat'>"),
    ("url", "https://example.com/path/to/image.jpg?size=large&q=80#frag"),
    ("url", "email me at someone@example.org or visit www.example.net"),
    ("social", "#hashtag @mention $TICKER"),
    ("code", "snake_case camelCase PascalCase kebab-case SCREAMING_CASE"),
    ("code", "C++ C# F# .NET Node.js"),
    ("special-literal", "a <|endoftext|> b <|startoftext|> c"),
    ("special-literal", "x </s> y <unk> z <pad> [CLS] [SEP] [MASK]"),
    ("special-literal", "\u2581under\u2581score \u2581"),
    ("long", _LONG_CAPTION),
    ("long", _MEDIUM_CAPTION),
    ("long", "supercalifragilisticexpialidocious " * 8),
    ("long", "a" * 300),
    ("long", "\U0001f431" * 100),
    ("long", "\u732b" * 150),
    ("long", " ".join(str(i) for i in range(100))),
]


def hard_texts() -> list[str]:
    return [t for _, t in HARD_TEXTS]
