// A Jinja2 subset interpreter for Hugging Face chat templates (tokenizer_config.json's "chat_template").
//
// Renders as transformers does: trim_blocks and lstrip_blocks on, one trailing newline dropped, the
// loopcontrols extension ({% break %}, {% continue %}), the globals raise_exception(msg), strftime_now(fmt),
// namespace(...), range(...), dict(...), and tojson as transformers defines it (json.dumps with
// ensure_ascii=False; indent, separators and sort_keys honoured). Values print as Python's str() does.
//
// Supported: {{ }}, {% %}, {# #} and {% raw %} with whitespace control ('-', '+'); literals, lists, dicts,
// tuples, attribute/index access, slicing, arithmetic, '~', '%' formatting, comparisons, and/or/not,
// in / not in, 'is' tests, conditional expressions; filters trim, tojson, length/count, upper, lower, title,
// capitalize, replace, join, default/d, string, items, first, last, list, reverse, unique, map, select,
// reject, selectattr, rejectattr, sum, min, max, dictsort, format, int, float, abs, safe; str methods strip,
// lstrip, rstrip, startswith, endswith, split, upper, lower, replace, title, capitalize, find, count, and
// dict methods get, items, keys, values; for (loop.*, loop.cycle, unpacking, 'if' filter, else), if/elif/
// else, set (names, unpacking, ns.attr, {% set x %}...{% endset %}), macro, {% generation %}.
// Anything else is an InvalidArgument error "unsupported <construct> at line L col C" (statements and syntax
// when parsed; filters, tests and methods when rendered); runtime errors (raise_exception, use of undefined
// values, type errors) also name the line and column.
//
// Known differences from Jinja2: tuples are lists (a printed tuple shows [..]); integers are 64-bit (beyond
// is an error); before a top-level {% set x %}, a macro reads the context's x (Jinja2: undefined);
// title/capitalize are ASCII.
#ifndef M1RL_MODEL_JINJA_H_
#define M1RL_MODEL_JINJA_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/chat_template.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {

class JinjaTemplate {
 public:
  struct Impl;

  // Parses `source`; syntax outside the subset is an error naming its line and column.
  static absl::StatusOr<JinjaTemplate> Parse(std::string_view source);

  // Renders with `context` (a JSON object: the template's variables). Object key order is kept (as Python's
  // dicts keep it), so tojson and dict iteration match transformers on the same parsed JSON; a
  // nlohmann::json argument converts implicitly (its keys sorted).
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& context) const;

 private:
  explicit JinjaTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Renders a chat template with `messages` (as [{"role", "content"}]), `add_generation_prompt`, and the
// variables of `extra` (an object: bos_token, eos_token, tools, ...; `messages` in it is overridden).
absl::StatusOr<std::string> RenderChatTemplate(
    std::string_view template_source, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

}  // namespace m1rl::model

#endif  // M1RL_MODEL_JINJA_H_
