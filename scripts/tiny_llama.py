"""A tiny llama-architecture model for llama.cpp's server, made offline and reproducibly.

Usage: python tiny_llama.py OUT_DIR  (needs gguf, tokenizers, numpy; see scripts/llama-cpp.sh)

Writes OUT_DIR/tiny-llama.gguf (F32, 4 layers, dim 512, 8 heads, context 2048, vocab 8192: about
22M parameters, 88 MB) and OUT_DIR/tokenizer/ (the same tokenizer as a Hugging Face directory,
for aiperf's --tokenizer). The weights are random (seed 7); the tokenizer is a byte-level BPE
trained on the license texts every Debian machine has. The output layer favours whole-word
tokens (` word`), so that generated text re-tokenizes to exactly the generated token count and
aiperf's OSL is exact. Same inputs, byte-identical files.
"""

import json
import os
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # BPE training deterministic

import gguf  # noqa: E402
import numpy as np  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

SEED = 7
VOCAB = 8192
DIM = 512
LAYERS = 4
HEADS = 8
FFN = 1536
CONTEXT = 2048
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def corpus():
    """Text already on the machine, in a fixed order."""
    roots = ["/usr/share/common-licenses"]
    files = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    files.append(p)
    files.sort()
    if not files:
        sys.exit("error: no text in /usr/share/common-licenses to train the tokenizer on")
    return files


def train_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train(corpus(), trainer)
    return tok


def save_hf(tok, out):
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": CONTEXT,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def whole_word(t):
    """` word` in byte-level form: `Ġ` then letters only."""
    return len(t) >= 3 and t[0] == "\u0120" and t[1:].isascii() and t[1:].isalpha()


def write_gguf(tok, path):
    vocab = tok.get_vocab()
    n = len(vocab)
    tokens = [None] * n
    for t, i in vocab.items():
        tokens[i] = t
    model = json.loads(tok.to_str())
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["model"]["merges"]]
    types = [gguf.TokenType.CONTROL if t in SPECIAL else gguf.TokenType.NORMAL for t in tokens]

    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny-llama")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(DIM)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(HEADS)
    w.add_rope_dimension_count(DIM // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|endoftext|>"])
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(SEED)

    def rand(*shape, scale=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)

    ones = np.ones(DIM, dtype=np.float32)
    w.add_tensor("token_embd.weight", rand(n, DIM))
    for b in range(LAYERS):
        p = f"blk.{b}."
        w.add_tensor(p + "attn_norm.weight", ones)
        w.add_tensor(p + "attn_q.weight", rand(DIM, DIM))
        w.add_tensor(p + "attn_k.weight", rand(DIM, DIM))
        w.add_tensor(p + "attn_v.weight", rand(DIM, DIM))
        w.add_tensor(p + "attn_output.weight", rand(DIM, DIM))
        w.add_tensor(p + "ffn_norm.weight", ones)
        w.add_tensor(p + "ffn_gate.weight", rand(FFN, DIM))
        w.add_tensor(p + "ffn_up.weight", rand(FFN, DIM))
        w.add_tensor(p + "ffn_down.weight", rand(DIM, FFN))
    w.add_tensor("output_norm.weight", ones)
    # Only whole-word tokens get weight in the output layer: their logits (spread about 20)
    # dwarf every other token's (0), so sampling picks whole words.
    out = rand(n, DIM, scale=1.0)
    keep = np.array([whole_word(t) for t in tokens])
    out[~keep] = 0.0
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return int(keep.sum())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_llama.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tok = train_tokenizer()
    save_hf(tok, os.path.join(out, "tokenizer"))
    words = write_gguf(tok, os.path.join(out, "tiny-llama.gguf"))
    print(f"tiny-llama: vocab {tok.get_vocab_size()}, {words} whole-word tokens, in {out}")


if __name__ == "__main__":
    main()
