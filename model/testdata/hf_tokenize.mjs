// Reference for model/tokenizer_parity_test.cc: encodes every string of CORPUS.json with the
// @huggingface/tokenizers (tokenizers.js) library and prints one JSON array of id arrays.
//   NODE_PATH-independent: node hf_tokenize.mjs MODULE_DIR TOKENIZER.json CORPUS.json
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [moduleDir, tokenizerPath, corpusPath] = process.argv.slice(2);
const entry = join(moduleDir, "node_modules", "@huggingface", "tokenizers", "dist", "tokenizers.mjs");
const { Tokenizer } = await import(pathToFileURL(entry).href);
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerPath, "utf8")), {});
const corpus = JSON.parse(readFileSync(corpusPath, "utf8"));
const ids = corpus.map((text) => Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids));
process.stdout.write(JSON.stringify(ids));
