#!/usr/bin/env python3
"""Renders a tokenizer_config.json's chat template with jinja2, the way transformers'
apply_chat_template does (sandboxed environment, trim_blocks, lstrip_blocks, loopcontrols,
raise_exception, a tojson that keeps non-ASCII), for one user message with
add_generation_prompt=True. strftime_now is deliberately not provided, so templates fall back to
their literal date, as sparsegate's ChatTemplate does.

    render_chat_template.py TOKENIZER_CONFIG < texts.json > rendered.json

stdin: a JSON list of user texts; stdout: a JSON list of rendered prompts, in order.
"""
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def token_text(value):
    if isinstance(value, dict):
        return value.get("content")
    return value


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    template = config["chat_template"]
    if isinstance(template, list):
        template = next(t["template"] for t in template if t["name"] == "default")

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(template)
    special = {k: token_text(config[k]) for k in ("bos_token", "eos_token", "unk_token", "pad_token")
               if token_text(config.get(k)) is not None}
    texts = json.load(sys.stdin)
    rendered = [compiled.render(messages=[{"role": "user", "content": t}], add_generation_prompt=True, **special)
                for t in texts]
    json.dump(rendered, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
