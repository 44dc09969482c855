"""The character tokenizer every OpenRLHF fake loads for the policy (the stand-in's get_tokenizer in
CI, real_fakes/openrlhf_cluster.py and the direct tests against the real code): one id per code
point, pad id 0, so that ids decode back to the exact text; a ChatML-like chat template. No real
tokenizer is installed here."""
import torch


class CharTokenizer:
    pad_token_id = 0
    eos_token_id = 3
    pad_token = "\x00"
    eos_token = "\x03"
    padding_side = "left"

    def __call__(self, text, add_special_tokens=False, return_tensors=None, **kwargs):
        ids = [ord(c) for c in text]
        return {"input_ids": torch.tensor([ids], dtype=torch.long) if return_tensors == "pt" else ids}

    def decode(self, ids, skip_special_tokens=False):
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if ids and isinstance(ids[0], list):
            return [self.decode(row, skip_special_tokens) for row in ids]
        return "".join(chr(i) for i in ids if not (skip_special_tokens and i == self.pad_token_id))

    def apply_chat_template(self, chat, tokenize=False, add_generation_prompt=True, **kwargs):
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
