// Reference for model/tokenizer_parity_test.cc: encodes every string of CORPUS.json with the
// @huggingface/tokenizers (tokenizers.js) library and decodes the ids again (special tokens kept, no clean-up
// of spaces, as the `tokenizers` library decodes); prints {"ids": [[...], ...], "text": ["...", ...]}.
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
// decode() refuses an empty list; its text is "".
const decode = (x) =>
  x.length === 0
    ? ""
    : tokenizer.decode(x, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
process.stdout.write(JSON.stringify({ ids, text: ids.map(decode) }));
