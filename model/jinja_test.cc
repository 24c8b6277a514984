#include "model/jinja.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_template.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------------------
// The reference: Jinja2 configured as transformers configures it (chat_template_utils / tokenization_utils):
// an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols, its own tojson filter
// and the raise_exception and strftime_now globals.
constexpr char kReferenceScript[] = R"PY(import json, sys
from datetime import datetime
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

def raise_exception(message):
    raise TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda format: datetime.now().strftime(format)
out = []
for case in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        out.append({"ok": env.from_string(case["template"]).render(**case["context"])})
    except Exception as e:
        out.append({"error": str(e), "type": type(e).__name__})
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"))
)PY";

struct Case {
  std::string name;
  std::string tmpl;
  Json context;
};

// Renders every case with python3 + jinja2 in one subprocess: [{"ok": text} | {"error": message}].
std::vector<Json> RenderWithJinja2(const std::vector<Case>& cases) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/jinja_test_", getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/render.py") << kReferenceScript;
  Json in = Json::array();
  for (const Case& c : cases) in.push_back({{"template", c.tmpl}, {"context", c.context}});
  std::ofstream(dir + "/cases.json") << in.dump();
  const std::string cmd = absl::StrCat("python3 ", dir, "/render.py ", dir, "/cases.json ", dir, "/out.json");
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "`" << cmd << "` failed: the reference needs python3 and python3-jinja2 "
                  << "(tools/setup-deps.sh installs them)";
    return {};
  }
  const absl::StatusOr<std::string> out = ReadFile(dir + "/out.json");
  if (!out.ok()) {
    ADD_FAILURE() << out.status();
    return {};
  }
  return Json::parse(*out).get<std::vector<Json>>();
}

// Renders each case with JinjaTemplate and with Jinja2: identical bytes, or both fail (for
// raise_exception, with Jinja2's message). Returns how many cases Jinja2 rendered successfully.
int ExpectSameAsJinja2(const std::vector<Case>& cases) {
  const std::vector<Json> want = RenderWithJinja2(cases);
  if (want.size() != cases.size()) {
    ADD_FAILURE() << "reference returned " << want.size() << " results for " << cases.size() << " cases";
    return 0;
  }
  int rendered = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    absl::StatusOr<std::string> got = [&]() -> absl::StatusOr<std::string> {
      absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse(cases[i].tmpl);
      if (!t.ok()) return t.status();
      return t->Render(cases[i].context);
    }();
    if (want[i].contains("ok")) {
      ++rendered;
      if (!got.ok()) {
        ADD_FAILURE() << got.status();
        continue;
      }
      EXPECT_EQ(*got, want[i]["ok"].get<std::string>());
    } else {
      EXPECT_FALSE(got.ok()) << "Jinja2 failed with " << want[i]["type"] << ": " << want[i]["error"]
                             << " but we rendered:\n"
                             << *got;
      if (!got.ok() && want[i]["type"] == "TemplateError") {
        EXPECT_THAT(got.status().message(), HasSubstr(want[i]["error"].get<std::string>()));
      }
    }
  }
  return rendered;
}

// ---------------------------------------------------------------------------------------------------------
// Real chat templates (as published in the models' tokenizer_config.json).

constexpr char kChatML[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
    "endif %}";

constexpr char kLlama3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}";

constexpr char kMistral[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) "
    "%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

constexpr char kLlama31[] = R"JINJA({{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)JINJA";

constexpr char kQwen25[] = R"JINJA({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)JINJA";

// Qwen3-style: reversed iteration with a namespace, split/strip methods, reasoning content.
constexpr char kQwen3[] = R"JINJA({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
)JINJA";

constexpr char kGemma2[] =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
    "}}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
    "message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
    "endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

constexpr char kPhi3[] =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] "
    "+ "
    "'<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% "
    "endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";

// DeepSeek-R1-style: a namespace carried across the loop, string tool arguments, '</think>' stripping.
constexpr char kDeepSeekR1[] =
    R"JINJA({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %})JINJA";

Json Msg(const std::string& role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}

Json WeatherTools() {
  return Json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "City"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}}])");
}

Json ToolCall(const std::string& name, const Json& arguments) {
  return {{"type", "function"}, {"function", {{"name", name}, {"arguments", arguments}}}};
}

std::vector<Json> Conversations() {
  Json call = Msg("assistant", "");
  call["tool_calls"] = Json::array({ToolCall("get_weather", {{"location", "Paris"}, {"unit", "celsius"}})});
  Json think = Msg("assistant", "<think>\nLet me add.\n</think>\n\n4");
  // content null and arguments as a JSON string, as OpenAI-style clients send them.
  Json string_calls = {{"role", "assistant"}, {"content", nullptr}};
  string_calls["tool_calls"] =
      Json::array({ToolCall("add", "{\"a\": 2, \"b\": 3}"), ToolCall("add", "{\"a\": 3, \"b\": 2}")});
  return {
      Json::array({Msg("user", "Hi!")}),
      Json::array({Msg("system", "  Be brief.\n"), Msg("user", " What is 2+2? "), Msg("assistant", "4"),
                   Msg("user", "And 3+3?")}),
      Json::array(
          {Msg("user", "Ünïcödé “quotes” 'single' \"double\" \\ back\nslash 🙂 {{ x }} {% y %}")}),
      Json::array({Msg("system", "You are a weather bot."), Msg("user", "Weather in Paris?"), call,
                   Msg("tool", "{\"temperature\": 22}"), Msg("assistant", "It is 22 °C.")}),
      Json::array({Msg("user", "2+2?"), think, Msg("user", "Thanks")}),
      Json::array({Msg("user", "a"), Msg("user", "b")}),  // breaks role alternation
      Json::array({Msg("user", "Add 2 and 3, twice."), string_calls, Msg("tool", "5"), Msg("tool", "5"),
                   Msg("assistant", "5 and 5.")}),
  };
}

TEST(JinjaTest, RealChatTemplatesRenderLikeJinja2) {
  const std::vector<std::pair<std::string, std::string>> templates = {
      {"chatml", kChatML},  {"llama3", kLlama3}, {"llama3.1", kLlama31},
      {"qwen2.5", kQwen25}, {"qwen3", kQwen3},   {"mistral", kMistral},
      {"gemma2", kGemma2},  {"phi3", kPhi3},     {"deepseek-r1", kDeepSeekR1}};
  std::vector<Case> cases;
  const std::vector<Json> convs = Conversations();
  for (const auto& [name, tmpl] : templates) {
    for (size_t c = 0; c < convs.size(); ++c) {
      for (bool gen : {false, true}) {
        for (bool tools : {false, true}) {
          Json ctx = {{"messages", convs[c]},
                      {"add_generation_prompt", gen},
                      {"bos_token", "<s>"},
                      {"eos_token", "</s>"}};
          if (tools) ctx["tools"] = WeatherTools();
          if (tools && name == "qwen3") ctx["enable_thinking"] = false;
          cases.push_back(
              {absl::StrCat(name, " conversation ", c, gen ? " +gen" : "", tools ? " +tools" : ""), tmpl,
               ctx});
        }
      }
    }
  }
  // Llama 3.1's builtin-tools branch (ipython call syntax) and a custom date.
  Json ipy = Msg("assistant", "");
  ipy["tool_calls"] = Json::array({ToolCall("brave_search", {{"query", "weather"}})});
  cases.push_back({"llama3.1 builtin tools",
                   kLlama31,
                   {{"messages", Json::array({Msg("user", "Search"), ipy, Msg("ipython", "sunny")})},
                    {"builtin_tools", {"brave_search", "code_interpreter"}},
                    {"date_string", "01 Jan 2025"},
                    {"bos_token", "<s>"},
                    {"add_generation_prompt", true}}});
  const int rendered = ExpectSameAsJinja2(cases);
  EXPECT_GT(rendered, static_cast<int>(cases.size()) * 3 / 4);  // 209 of 253 render; the rest fail in both
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic templates, one construct each.

TEST(JinjaTest, ConstructsRenderLikeJinja2) {
  const Json ctx = {
      {"messages",
       Json::array({Msg("system", "sys"), Msg("user", "  hello world  "), Msg("assistant", "ok")})},
      {"items", {3, 1, 2}},
      {"d", {{"b", 2}, {"a", "x"}, {"c", Json::array({1, 2.5, nullptr, true})}}},
      {"s", "  Hello, Wörld! ünï  "},
      {"n", 7},
      {"f", 2.5},
      {"none_value", nullptr},
      {"empty", ""},
      {"flag", true},
      {"l", {1, 2, 3}},
      {"parts", Json::array({{{"type", "text"}, {"text", " hi "}}, {{"type", "image"}}})},
      {"u", "\u00e9\u2028x\u0001"},
  };
  // One template per entry, entries separated by a line "%%%%".
  constexpr char kTemplates[] = R"JINJA(a
  {% if true %}
    b
  {% endif %}
c
%%%%
a  {%- if true -%}  b  {%- endif -%}  c
%%%%
x
  {# comment #}
y
{#- c2 -#}
 z
%%%%
row
    {%+ if true %}kept{% endif %}

%%%%
{{ 'a' }}
{{ 'b' }}
  {{- 'c' -}}  
 d
%%%%
{% for m in messages %}
  - {{ m.role }}
{% endfor %}

%%%%
{% raw %}{{ not evaluated }} {% if %}{% endraw %}!
%%%%
{{ 1/3 }}|{{ 1e20 }}|{{ 0.0001 }}|{{ 1.5e-7 }}|{{ 2**10 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 / 2 }}
%%%%
{{ 10.0 }}|{{ 123456789.125 }}|{{ 1e16 }}|{{ 1e15 }}|{{ -0.5 }}|{{ 3 * 1.1 }}
%%%%
{{ [1, 'a', none, true, {'k': 1.5}] }}|{{ d }}|{{ none_value }}|{{ true }}|{{ (1, 2)|list }}
%%%%
{{ "it's" }}|{{ ["it's", 'say "hi"', 'both \' "', 'nl\n'] }}
%%%%
{{ 'a' 'b' }}|{{ 'tab\tnl\n' }}|{{ "q\"q" }}|{{ 'x' * 3 }}|{{ [1] + [2] }}|{{ n - 2 * 3 + f }}
%%%%
{{ 1 < 2 < 3 }}{{ 'a' in 'cat' }}{{ 2 in items }}{{ 'b' in d }}{{ 5 not in items }}{{ not n }}
%%%%
{{ n ~ '-' ~ f ~ '-' ~ none_value }}|{{ (n > 3) and 'yes' or 'no' }}|{{ empty or 'fallback' }}
%%%%
{{ 'big' if n > 5 else 'small' }}|{{ 'x' if false }}|{{ 'y' if n }}
%%%%
{{ d.a }}{{ d['b'] }}{{ d.c[1] }}{{ d.c[-1] }}{{ d.missing }}|{{ items[1:] }}{{ items[::-1] }}{{ items[:-1] }}
%%%%
{{ s[::-1] }}|{{ s[2:7] }}|{{ s[-5:] }}|{{ s[::2] }}|{{ messages[1:][0].content }}
%%%%
[{{ s|trim }}][{{ s|upper }}][{{ s|lower }}][{{ s|length }}][{{ items|length }}][{{ d|length }}]
%%%%
{{ items|join(', ') }}|{{ items|first }}|{{ items|last }}|{{ items|reverse|list }}|{{ 'abc'|reverse }}
%%%%
{{ undefined_thing|default('dflt') }}|{{ empty|default('e', true) }}|{{ none_value|default('n') }}
%%%%
{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ s|tojson }}|{{ [1.0, 1e-7, 'ü"\n'] | tojson }}
%%%%
{{ d|tojson(sort_keys=true) }}|{{ {'x': [1, {'y': none}]}|tojson(indent=4) }}|{{ [] | tojson(indent=2) }}
%%%%
{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}|{{ n|string + '!' }}|{{ '42'|int + 1 }}|{{ '2.5'|float }}
%%%%
{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join }}|{{ messages|rejectattr('role', 'eq', 'system')|list|length }}|{{ messages|map(attribute='role')|join('/') }}
%%%%
{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ [1, 1, 2]|unique|list }}
%%%%
[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}]{{ s.startswith('  He') }}{{ s.endswith(('a', '  ')) }}
%%%%
{{ 'a,b,,c'.split(',') }}{{ '  a b\n c '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'A'.lower() }}{{ 'b'.upper() }}
%%%%
{% for k, v in d.items() %}{{ k }}:{{ v }} {% endfor %}{{ d.keys()|list }}{{ d.values()|list|length }}{{ d.get('a') }}{{ d.get('zz', 'none!') }}{{ d.get('zz') }}
%%%%
{{ n is defined }}{{ nope is defined }}{{ nope is undefined }}{{ none_value is none }}{{ s is string }}{{ n is number }}{{ n is integer }}{{ f is float }}{{ d is mapping }}{{ items is iterable }}{{ n is odd }}{{ n is even }}{{ 9 is divisibleby(3) }}{{ n is not string }}{{ true is true }}{{ n is eq 7 }}{{ n is gt(3) }}
%%%%
{% for i in items %}{{ loop.index0 }}/{{ loop.index }}/{{ loop.revindex }}/{{ loop.length }}{{ 'F' if loop.first }}{{ 'L' if loop.last }}{% if not loop.first %}<{{ loop.previtem }}{% endif %} {% endfor %}
%%%%
{% for i in [] %}x{% else %}empty{% endfor %}|{% for i in items if i > 1 %}{{ i }}{{ loop.length }}{% endfor %}|{% for c in 'héllo' %}{{ c }}.{% endfor %}
%%%%
{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}
%%%%
{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}
%%%%
{% set x = 1 %}{% for i in items %}{% set x = x + i %}{% endfor %}{{ x }}|{% set ns = namespace(total=0, names=[]) %}{% for i in items %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}{{ ns.names }}
%%%%
{% set a, b = [1, 2] %}{{ a }}{{ b }}|{% set block %}inner {{ n }}{% endset %}[{{ block }}]
%%%%
{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}|{% if none_value %}x{% else %}y{% endif %}
%%%%
{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}
%%%%
{{ raise_exception('custom failure ' ~ n) }}
%%%%
{{ nope.attr }}
%%%%
{{ 1 + 'a' }}
%%%%
a {# c #} b
  {#- c -#}  
c
%%%%
line1
    {% if true %}    indented-after-tag
    {% endif %}
line3
%%%%
x {% if true %}
y {% endif %} z
%%%%
{% if true %}a{% endif %}
{% if true %}b{% endif %}

c
%%%%
  {{ 'v' }}  
  {%- if true %}
    w
  {%- endif %}

%%%%
{%- for m in messages -%}
    {{- m.role -}}
    {%- if not loop.last %}, {% endif -%}
{%- endfor -%}
%%%%
{% raw %}
  {{ raw }}
{% endraw %}
after
%%%%
  {%- raw -%}  
  x  
  {%- endraw -%}  
y
%%%%
{{ "a\"b" }}{{ 'c\'d' }}{{ "e\\f" }}{{ 'g\x41' }}{{ '\u00e9' }}{{ '}}' }}{{ "{%" }}{{ '#}' }}
%%%%
{% set x -%}
  block
{%- endset %}[{{ x }}]
%%%%
{%
  if true
%}multi{%
  endif
%}{{ 'a' ~
   'b' }}
%%%%
{% if messages[0].role == 'system' -%}
    S: {{ messages[0].content }}
{% endif -%}
E
%%%%
text	{%+ if true %}x{% endif %}
	  {% if true %}y{% endif %}
%%%%
{{ flag == 1 }}|{{ 1 == 1.0 }}|{{ flag in [1] }}|{{ 0 == false }}|{{ flag + 1 }}|{{ -flag }}|{{ flag < 2 }}
%%%%
{% for p in parts %}{% if p.type == 'text' %}[{{ p.text|trim }}]{% elif p.type == 'image' %}<img>{% endif %}{% endfor %}
%%%%
{{ u|tojson }}|{{ u }}|{{ [u] }}|{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(indent=2, sort_keys=true) }}
%%%%
{% set x = 1 %}{% for i in items %}{{ x }}{% set x = x + i %}{{ x }},{% if i == 1 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}{{ x }}
%%%%
{% for i in items %}{{ loop.cycle('a', 'b') }}{% endfor %}
%%%%
{{ items|sum }}|{{ items|max }}|{{ items|min }}|{{ ['b', 'A', 'c']|max }}|{{ [[1], [2]]|sum(start=[]) }}|{{ [{'k': 1.5}, {'k': 2}]|sum(attribute='k') }}
%%%%
{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d|dictsort(by='key', reverse=true) %}{{ k }}{% endfor %}
%%%%
{{ "%s-%d|%5.2f|%-4s|%03d|%%"|format("a", 3, f, 'x', n) }}|{{ '%s' % s }}|{{ '%s and %s' % ('a', n) }}
%%%%
{{ n is sameas 7 }}|{{ none_value is sameas none }}|{{ s is in 'xx  Hello, Wörld! ünï  x' }}|{{ 3 is le 4 }}|{{ n is divisibleby 7 }}
%%%%
{{ s.count('l') }}{{ s.find('W') }}|{{ 'a b'.title() }}
%%%%
{{ messages[-1].role }}|{{ messages[5] }}|{{ messages[1:2]|length }}|{{ s[100:] }}|{{ items[-10:2] }}
%%%%
{{ -n }}|{{ - f }}|{{ n // 2 * 2 }}|{{ 2 ** 3 ** 2 }}|{{ n % 3 + 1 }}|{{ 1.0 // 0.3 }}|{{ -1.5 % 1 }}|{{ 'ab' < 'b' }}
%%%%
trailing newline is dropped: {{ n }}

%%%%
{{ [1e-7, 1e22, 123456789012345678, 0.1 + 0.2, -0.0, 1.5e300 * 1e10]|tojson }}
%%%%
{{ 0.1 + 0.2 }}|{{ 1e22 }}|{{ -0.0 }}|{{ 100.0 }}|{{ 1e16 }}|{{ 123456789.0 }}|{{ 5e-324 }}
%%%%
{% for m in messages %}{% set outer = loop %}{% for c in 'ab' %}{{ outer.index }}{{ loop.index }}{% endfor %}{% endfor %}
%%%%
{{ ' a  b '.split(' ') }}|{{ ''.split() }}|{{ ''.split(',') }}|{{ 'a,b'.split(',', 0) }}|{{ '  a  b  '.split(None, 1) }}|{{ 'a\u3000b\u00a0c'.split() }}
%%%%
{{ 'ÄÖü'.lower() }}{{ 'straße'.upper() }}|{{ '\u00a0x\u3000'.strip() }}|{{ 'héllo'[1] }}{{ 'héllo'|length }}
%%%%
{{ x }}|{{ x|default('d') }}|{{ x is none }}|{{ x|length }}|{% for i in x %}never{% endfor %}|{{ x|string }}|{{ x|trim }}
%%%%
{{ undefinedvar.attr }}
%%%%
{{ messages[0].nope.deeper }}
%%%%
{{ none.attr }}|{{ 'str'.nope }}|{{ 5.nope }}
%%%%
{{ l[0:2] == [1, 2] }}|{{ d == {'z': 1, 'a': [true, none]} }}|{{ [1, 2] != [1] }}
%%%%
{% set a = [1, 2] %}{% set b = a + [3] %}{{ a }}{{ b }}
%%%%
{{ d['z'] }}{{ d.z }}{{ d['missing']|default('m') }}{{ d.get('a')|length }}
%%%%
{% if d %}yes{% endif %}{% if {} %}no{% endif %}{% if [] %}no{% endif %}{% if 0.0 %}no{% endif %}{% if ' ' %}sp{% endif %}
%%%%
{{ messages|map(attribute='role')|list|tojson }}|{{ messages|selectattr('role', 'in', ['user', 'system'])|map(attribute='role')|join(',') }}
%%%%
{{ n|float }}|{{ f|int }}|{{ 'abc'|int }}|{{ '12abc'|int(5) }}|{{ ' 42 '|int }}|{{ '3.9'|int }}|{{ -f|abs }}
%%%%
{{ l|first }}{{ l|last }}{{ 'xyz'|first }}{{ []|first }}
%%%%
{{ s|replace('b', 'BB') }}{{ 'aaa'.replace('a', 'b', 2) }}
%%%%
{{ "%.3f"|format(f) }}{{ "%5d|%-5d|"|format(n, n) }}{{ "%r"|format(s) }}
%%%%
{{ "a" in l }}|{{ 1 in l }}|{{ 'z' in d }}|{{ 'b' in 'abc' }}|{{ none in [none] }}
%%%%
{% for i in range(3) %}{{ loop.revindex0 }}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}
%%%%
{% for i in l %}{% if loop.first %}[{% endif %}{{ i }}{% if not loop.last %},{% else %}]{% endif %}{% endfor %}
%%%%
{{ messages|length is odd }}{{ (messages|length) is even }}
%%%%
{{ "A" ~ 1 ~ none ~ true ~ 1.5 }}|{{ 1 + 1.5 }}|{{ 7 / 7 }}|{{ 2 * 'ab' }}
%%%%
{{- '   x   ' -}}
%%%%
{% set ns = namespace(items=[]) %}{% for i in l %}{% set ns.items = ns.items + [i * 2] %}{% endfor %}{{ ns.items }}
%%%%
{{ dict(a=1, b='x') }}|{{ dict(a=1)|tojson }}
%%%%
{{ 'abc' is string }}{{ 1 is string }}{{ l is sequence }}{{ d is sequence }}{{ 1 is iterable }}{{ s is mapping }}
%%%%
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{{- "Today Date: " + date_string + "\n\n" }}
%%%%
{% macro m() %}[{{ i }}{{ n }}{{ top }}]{% endmacro %}{% set top = 5 %}{% for i in [1, 2] %}{% set n = 3 %}{{ m() }}{% endfor %}{{ m() }})JINJA";
  std::vector<std::string> templates = absl::StrSplit(kTemplates, "\n%%%%\n");
  // Windows and old-Mac line ends (Jinja reads both as "\n").
  templates.push_back("a\r\n  {% if true %}\r\n  b\r\n  {% endif %}\r\nc\rd {{ 'x\r\ny' }}\r\n");
  std::vector<Case> cases;
  for (size_t i = 0; i < templates.size(); ++i)
    cases.push_back({absl::StrCat("synthetic ", i, ": ", templates[i]), templates[i], ctx});
  const int rendered = ExpectSameAsJinja2(cases);
  // Five fail in both: raise_exception, 1 + 'a', and three attribute accesses on undefined values.
  EXPECT_EQ(rendered, static_cast<int>(templates.size()) - 5);
}

TEST(JinjaTest, RenderChatTemplateTakesMessagesAndExtra) {
  const std::vector<ChatMessage> messages = {
      {"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};
  const Json extra = {{"bos_token", "<|begin_of_text|>"}};
  std::vector<Case> cases;
  for (bool gen : {false, true}) {
    Json ctx = extra;
    Json list = Json::array();
    for (const ChatMessage& m : messages) list.push_back(Msg(m.role, m.content));
    ctx["messages"] = list;
    ctx["add_generation_prompt"] = gen;
    cases.push_back({absl::StrCat("llama3 gen=", gen), kLlama3, ctx});
  }
  const std::vector<Json> want = RenderWithJinja2(cases);
  ASSERT_EQ(want.size(), 2u);
  for (bool gen : {false, true}) {
    absl::StatusOr<std::string> got = RenderChatTemplate(kLlama3, messages, gen, extra);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want[gen ? 1 : 0]["ok"].get<std::string>());
  }
  // Independently: the generation prompt is exactly the assistant header appended.
  absl::StatusOr<std::string> with = RenderChatTemplate(kLlama3, messages, true, extra);
  absl::StatusOr<std::string> without = RenderChatTemplate(kLlama3, messages, false, extra);
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(*with, *without + "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(without->rfind("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>", 0),
            0u);
}

TEST(JinjaTest, UnsupportedSyntaxNamesLineAndColumn) {
  EXPECT_THAT(JinjaTemplate::Parse("line one\n{% include 'other.jinja' %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported statement 'include' at line 2 col 4")));
  EXPECT_THAT(JinjaTemplate::Parse("{% for x in y %}\n  {{ x }}\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing {% endfor %}")));
  EXPECT_THAT(
      JinjaTemplate::Parse("a\nb {{ x $ y }}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported character '$' at line 2 col 8")));
  EXPECT_THAT(JinjaTemplate::Parse("{{ x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unclosed tag at line 1 col 1")));
  EXPECT_THAT(JinjaTemplate::Parse("{% for x in y recursive %}{% endfor %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported recursive for loop at line 1 col 15")));
  // Unknown filters and methods fail when rendered, naming where.
  absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse("ok\n  {{ 'x'|wordwrap(3) }}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->Render(Json::object()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported filter 'wordwrap' at line 2 col 10")));
  t = JinjaTemplate::Parse("{{ 'x'.zfill(3) }}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->Render(Json::object()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported string method 'zfill' at line 1 col 7")));
}

TEST(JinjaTest, HostileTemplatesFailCleanly) {
  const std::string deep_expr = "{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}";
  EXPECT_THAT(JinjaTemplate::Parse(deep_expr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting deeper than 200")));
  std::string deep_blocks;
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
  EXPECT_THAT(JinjaTemplate::Parse(deep_blocks).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block nesting deeper than 200")));
  const auto render = [](const std::string& src) -> absl::Status {
    absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse(src);
    if (!t.ok()) return t.status();
    return t->Render(Json::object()).status();
  };
  EXPECT_THAT(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("macro calls nested deeper than 200")));
  EXPECT_THAT(render("{{ 2 ** 64 }}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond 64 bits")));
  EXPECT_THAT(render("{{ 9223372036854775807 + 1 }}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond 64 bits")));
  EXPECT_THAT(render("{{ range(100000000000)|length }}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("range() too long")));
  EXPECT_THAT(render("{{ 'ab' * 100000000000 }}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeated string too long")));
  // Just inside the limits, the same constructs work: 2**62, a macro recursing 50 deep.
  EXPECT_THAT(render("{{ 2 ** 62 }}"), ::m1rl::testing::IsOk());
  absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro %}{{ f(50) }}");
  ASSERT_TRUE(t.ok()) << t.status();
  M1RL_ASSERT_OK_AND_ASSIGN(std::string out, t->Render(Json::object()));
  std::string want;
  for (int i = 0; i <= 50; ++i) want += std::to_string(i);
  EXPECT_EQ(out, want);
}

TEST(JinjaTest, GenerationBlockRendersItsBody) {
  // transformers' {% generation %} (AssistantTracker) marks assistant text; rendering keeps the body as is.
  absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse(
      "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}<a>{{ m.content }}</a>"
      "{% endgeneration %}{% else %}<u>{{ m.content }}</u>{% endif %}{% endfor %}");
  ASSERT_TRUE(t.ok()) << t.status();
  M1RL_ASSERT_OK_AND_ASSIGN(
      std::string out, t->Render({{"messages", Json::array({Msg("user", "q"), Msg("assistant", "r")})}}));
  EXPECT_EQ(out, "<u>q</u><a>r</a>");
}

TEST(JinjaTest, RaiseExceptionReportsMessageAndLine) {
  absl::StatusOr<std::string> r =
      RenderChatTemplate(kMistral, {{"user", "a"}, {"user", "b"}}, true, {{"bos_token", "<s>"}});
  EXPECT_THAT(
      r.status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("Conversation roles must alternate user/assistant/user/assistant/... at line 1")));
}

// ---------------------------------------------------------------------------------------------------------
// ApplyTokenizerConfigChatTemplate: the template and special tokens of a tokenizer_config.json.

std::string NewDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/jinja_test_", getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(JinjaTest, TokenizerConfigChatTemplateRendersLikeJinja2) {
  const std::vector<ChatMessage> conv = {{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
  Json messages = Json::array();
  for (const ChatMessage& m : conv) messages.push_back(Msg(m.role, m.content));
  const std::string dir = NewDir("config");
  // bos_token as transformers writes an AddedToken, eos_token as a plain string.
  const Json config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<|begin|>"}, {"lstrip", false}}},
                       {"eos_token", "</s>"},
                       {"chat_template", kMistral}};
  std::ofstream(dir + "/tokenizer_config.json") << config.dump(2);
  // A list of named templates: "default", and "tool_use" when tools are given.
  const std::string named_dir = NewDir("named");
  const Json named = {{"chat_template", Json::array({{{"name", "default"}, {"template", kChatML}},
                                                     {{"name", "tool_use"}, {"template", kQwen25}}})}};
  std::ofstream(named_dir + "/tokenizer_config.json") << named.dump();
  // No chat_template key: transformers' separate chat_template.jinja.
  const std::string sibling_dir = NewDir("sibling");
  std::ofstream(sibling_dir + "/tokenizer_config.json") << R"({"eos_token": "<eos>"})";
  std::ofstream(sibling_dir + "/chat_template.jinja") << kLlama3;

  const std::vector<Case> cases = {
      {"mistral",
       kMistral,
       {{"messages", messages},
        {"add_generation_prompt", true},
        {"bos_token", "<|begin|>"},
        {"eos_token", "</s>"}}},
      {"named default", kChatML, {{"messages", messages}, {"add_generation_prompt", true}}},
      {"named tool_use",
       kQwen25,
       {{"messages", messages}, {"add_generation_prompt", false}, {"tools", WeatherTools()}}},
      {"sibling",
       kLlama3,
       {{"messages", messages},
        {"add_generation_prompt", false},
        {"eos_token", "<eos>"},
        {"bos_token", "B"}}},
  };
  const std::vector<Json> want = RenderWithJinja2(cases);
  ASSERT_EQ(want.size(), cases.size());
  for (const Json& w : want) ASSERT_TRUE(w.contains("ok")) << w.dump();

  M1RL_ASSERT_OK_AND_ASSIGN(std::string got,
                            ApplyTokenizerConfigChatTemplate(dir + "/tokenizer_config.json", conv, true));
  EXPECT_EQ(got, want[0]["ok"].get<std::string>());
  M1RL_ASSERT_OK_AND_ASSIGN(
      got, ApplyTokenizerConfigChatTemplate(named_dir + "/tokenizer_config.json", conv, true));
  EXPECT_EQ(got, want[1]["ok"].get<std::string>());
  M1RL_ASSERT_OK_AND_ASSIGN(got, ApplyTokenizerConfigChatTemplate(named_dir + "/tokenizer_config.json", conv,
                                                                  false, {{"tools", WeatherTools()}}));
  EXPECT_EQ(got, want[2]["ok"].get<std::string>());
  M1RL_ASSERT_OK_AND_ASSIGN(got, ApplyTokenizerConfigChatTemplate(sibling_dir + "/tokenizer_config.json",
                                                                  conv, false, {{"bos_token", "B"}}));
  EXPECT_EQ(got, want[3]["ok"].get<std::string>());

  // Loaded once, rendered many times: each call picks "default" or "tool_use" by its variables.
  M1RL_ASSERT_OK_AND_ASSIGN(ChatTemplateFile file,
                            ChatTemplateFile::Load(named_dir + "/tokenizer_config.json"));
  EXPECT_EQ(file.path(), named_dir + "/tokenizer_config.json");
  for (int round = 0; round < 2; ++round) {
    M1RL_ASSERT_OK_AND_ASSIGN(got, file.Apply(conv, true));
    EXPECT_EQ(got, want[1]["ok"].get<std::string>());
    M1RL_ASSERT_OK_AND_ASSIGN(got, file.Apply(conv, false, {{"tools", WeatherTools()}}));
    EXPECT_EQ(got, want[2]["ok"].get<std::string>());
  }
}

TEST(JinjaTest, TokenizerConfigChatTemplateErrorsNameTheFile) {
  const std::string dir = NewDir("errors");
  const std::string missing = dir + "/absent/tokenizer_config.json";
  EXPECT_THAT(ApplyTokenizerConfigChatTemplate(missing, {{"user", "x"}}, true).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  const std::string no_template = dir + "/tokenizer_config.json";
  std::ofstream(no_template) << R"({"eos_token": "</s>"})";
  EXPECT_THAT(ApplyTokenizerConfigChatTemplate(no_template, {{"user", "x"}}, true).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(no_template + " has no \"chat_template\"")));
  const std::string bad_json = dir + "/bad.json";
  std::ofstream(bad_json) << "{not json";
  EXPECT_THAT(ApplyTokenizerConfigChatTemplate(bad_json, {{"user", "x"}}, true).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad_json + " is not a JSON object")));
  const std::string strict = dir + "/mistral.json";
  std::ofstream(strict)
      << Json({{"chat_template", kMistral}, {"bos_token", "<s>"}, {"eos_token", "</s>"}}).dump();
  EXPECT_THAT(
      ApplyTokenizerConfigChatTemplate(strict, {{"user", "a"}, {"user", "b"}}, true).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(strict + ": chat_template: raise_exception: Conversation roles must alternate")));
  const std::string unsupported = dir + "/unsupported.json";
  std::ofstream(unsupported)
      << Json({{"chat_template", "{{ x }}\n{% filter upper %}x{% endfilter %}"}}).dump();
  EXPECT_THAT(
      ApplyTokenizerConfigChatTemplate(unsupported, {}, true).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(unsupported + ": chat_template: unsupported statement 'filter' at line 2 col 4")));
}

}  // namespace
}  // namespace m1rl::model
