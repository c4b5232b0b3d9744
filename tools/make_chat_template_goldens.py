"""Write tests/data/chat_templates/cases.json: expected outputs of Python jinja2 with HF's settings.

Run with the reference venv (jinja2 3.1.6, transformers 5.25.0):
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_chat_template_goldens.py

Each chat template in tests/data/chat_templates/*.jinja is rendered over a set of conversations
with transformers' render_jinja_template, the function behind apply_chat_template. The
language cases are rendered by the same compiled environment (_compile_jinja_template), so the
C++ tests compare against jinja2 itself, never against expectations written by hand.
"""

import json
import pathlib

import jinja2
import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template, render_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "chat_templates"

# Origin and special tokens of each template. A "reconstructed" template was written from the
# family's published template because no copy of the file was available offline.
TEMPLATES = {
    "smollm2-instruct.jinja": {
        "origin": "extracted: key tokenizer.chat_template of SmolLM2-135M-Instruct.Q4_1.gguf",
        "special_tokens": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    },
    "llama-3-instruct.jinja": {
        "origin": "reconstructed: Meta-Llama-3-8B-Instruct tokenizer_config.json chat_template",
        "special_tokens": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    },
    "llama-3.2-instruct.jinja": {
        "origin": "copied: models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        "kwargs": {"date_string": "26 Jul 2024"},
    },
    "llama-3.3-instruct.jinja": {
        "origin": "copied: models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    },
    "hermes-3-llama-3.1-tool-use.jinja": {
        "origin": "copied: models/templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"},
    },
    "qwen2.5-instruct.jinja": {
        "origin": "reconstructed: Qwen2.5-7B-Instruct tokenizer_config.json chat_template",
        "special_tokens": {"eos_token": "<|im_end|>"},
    },
    "qwen3.jinja": {
        "origin": "copied: models/templates/Qwen-Qwen3-0.6B.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"eos_token": "<|im_end|>"},
    },
    "gemma-2-it.jinja": {
        "origin": "copied: models/templates/google-gemma-2-2b-it.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<bos>", "eos_token": "<eos>"},
    },
    "gemma-3-it.jinja": {
        "origin": "reconstructed: gemma-3-4b-it chat_template (text-only parts)",
        "special_tokens": {"bos_token": "<bos>", "eos_token": "<eos>"},
    },
    "mistral-7b-instruct-v0.3.jinja": {
        "origin": "reconstructed: Mistral-7B-Instruct-v0.3 tokenizer_config.json chat_template (no tools)",
        "special_tokens": {"bos_token": "<s>", "eos_token": "</s>"},
    },
    "mistral-nemo-instruct-2407.jinja": {
        "origin": "copied: models/templates/mistralai-Mistral-Nemo-Instruct-2407.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<s>", "eos_token": "</s>"},
    },
    "phi-3.5-mini-instruct.jinja": {
        "origin": "copied: models/templates/microsoft-Phi-3.5-mini-instruct.jinja of llama.cpp (fork ye-NX/llama.cpp, commit b354d7c9)",
        "special_tokens": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    },
    "chatml.jinja": {
        "origin": "reconstructed: the generic ChatML template of HF's chat templating docs",
        "special_tokens": {"bos_token": "<s>", "eos_token": "<|im_end|>"},
    },
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather forecast for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "days": {"type": "integer", "description": "Number of days"},
                    "units": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Query text"},
                    "limits": {"type": "array", "items": {"type": "number"}, "description": "Bounds"},
                },
                "required": ["query"],
            },
        },
    },
]

TOOL_CALL = {
    "id": "call12345",
    "type": "function",
    "function": {
        "name": "get_weather",
        "arguments": {"city": "Zürich", "days": 3, "ratio": 2.0, "tiny": 1e-7, "flag": True, "none": None,
                      "nested": {"list": [1, 2.5, "x"], "empty": {}}},
    },
}

UNICODE_TEXT = 'Héllo 世界 🌍\n"double" \'single\' {braces} {{ jinja }} {% tag %}\ttab \\ backslash  '

CONVERSATIONS = {
    "single_user": [{"role": "user", "content": "Hello!"}],
    "system_multi_turn": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 equals 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "assistant_last": [
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": "Hi there!"},
    ],
    "unicode_and_markup": [
        {"role": "system", "content": "  Be brief.\n\n"},
        {"role": "user", "content": UNICODE_TEXT},
        {"role": "assistant", "content": "\n  " + UNICODE_TEXT + "\n"},
        {"role": "user", "content": "line1\r\nline2\n\n\nline3"},
    ],
    "empty_content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": " "},
    ],
    "tool_call_round_trip": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": '{"temp": 21.5, "sky": "clear"}'},
        {"role": "user", "content": "Thanks!"},
    ],
    "multiple_tool_calls": [
        {"role": "user", "content": "Two things."},
        {"role": "assistant", "content": None, "tool_calls": [
            TOOL_CALL,
            {"id": "call67890", "type": "function",
             "function": {"name": "search", "arguments": {"query": "x \"y\" z", "limits": [0.5, 10]}}},
        ]},
        {"role": "tool", "tool_call_id": "call12345", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call67890", "content": "found"},
    ],
    "content_parts": [
        {"role": "system", "content": [{"type": "text", "text": "Parts system."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe this. "}]},
    ],
    "tool_call_string_arguments": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "abcdefghi", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "cold"},
    ],
    "wrong_role_order": [
        {"role": "user", "content": "First."},
        {"role": "user", "content": "Second in a row."},
    ],
    "reasoning": [
        {"role": "user", "content": "Think first."},
        {"role": "assistant", "content": "The answer is 42.", "reasoning_content": "Let me think.\nIt is 42."},
        {"role": "user", "content": "Why?"},
    ],
    "think_tags_in_content": [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "<think>\nhidden\n</think>\n\nvisible"},
    ],
}

# (conversation, add_generation_prompt, extra kwargs, with tools)
CASE_PLAN = [
    ("single_user", True, {}, False),
    ("single_user", False, {}, False),
    ("system_multi_turn", True, {}, False),
    ("assistant_last", False, {}, False),
    ("assistant_last", True, {}, False),
    ("unicode_and_markup", True, {}, False),
    ("empty_content", True, {}, False),
    ("single_user", True, {}, True),
    ("tool_call_round_trip", True, {}, True),
    ("tool_call_round_trip", False, {}, False),
    ("wrong_role_order", True, {}, False),
    ("reasoning", True, {}, False),
    ("think_tags_in_content", False, {}, False),
    ("single_user", True, {"enable_thinking": False}, False),
    ("tool_call_round_trip", True, {"tools_in_user_message": False}, True),
    ("tool_call_round_trip", True, {"builtin_tools": ["get_weather", "code_interpreter"]}, True),
    ("multiple_tool_calls", True, {}, True),
    ("content_parts", True, {}, False),
    ("tool_call_string_arguments", True, {}, True),
]


def render_case(source, messages, add_generation_prompt, kwargs, tools):
    try:
        rendered, _ = render_jinja_template(
            conversations=[messages],
            tools=tools,
            chat_template=source,
            add_generation_prompt=add_generation_prompt,
            **kwargs,
        )
        return {"expected": rendered[0]}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception() raises the TemplateError base class itself.
        if type(e) is jinja2.exceptions.TemplateError:
            return {"raise_exception": e.message}
        return {"error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # TypeError and friends from Python operators
        return {"error": f"{type(e).__name__}: {e}"}


def template_cases():
    cases = []
    for file_name, info in TEMPLATES.items():
        source = (DATA / file_name).read_text(encoding="utf-8")
        for conversation, add_generation_prompt, extra, with_tools in CASE_PLAN:
            context = {**info["special_tokens"], **info.get("kwargs", {}), **extra}
            tools = TOOLS if with_tools else None
            name = f"{conversation}{'_gen' if add_generation_prompt else ''}{'_tools' if with_tools else ''}"
            name += "".join(f"_{k}" for k in extra)
            case = {
                "template": file_name,
                "name": name,
                "messages": CONVERSATIONS[conversation],
                "add_generation_prompt": add_generation_prompt,
                "context": {**context, **({"tools": tools} if tools else {})},
            }
            case.update(render_case(source, CONVERSATIONS[conversation], add_generation_prompt, context, tools))
            cases.append(case)
    return cases


# Focused language cases: (name, template, context).
LANGUAGE = [
    ("text_only", "plain text", {}),
    ("trailing_newline_dropped", "a\n", {}),
    ("two_trailing_newlines", "a\n\n", {}),
    ("crlf_normalized", "a\r\nb\rc", {}),
    ("print_types", "{{ 1 }}|{{ 1.5 }}|{{ 'x' }}|{{ none }}|{{ true }}|{{ False }}|{{ [1, 'a', none] }}|{{ {'k': 'v', 'n': 2} }}", {}),
    ("print_floats", "{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 1e-5 }}|{{ 0.0001 }}|{{ -0.0 }}|{{ 3 / 2 }}|{{ 4 / 2 }}|{{ 123456789.123 }}", {}),
    ("print_nested_repr", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n', '\\\\'] }}", {}),
    ("print_tuple", "{{ (1,) }}|{{ (1, 2) }}|{{ () }}", {}),
    ("undefined_prints_empty", "[{{ missing }}][{{ d.missing }}]", {"d": {}}),
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ true + 1 }}", {}),
    ("string_ops", "{{ 'a' + 'b' }}|{{ 'ab' * 3 }}|{{ 1 ~ 'x' ~ none ~ missing }}|{{ 'x' in 'xyz' }}|{{ 'q' not in 'xyz' }}", {}),
    ("percent_format", "{{ '%s-%d' % ('a', 3) }}|{{ '%s' % 'x' }}|{{ '100%%' % () }}", {}),
    ("comparisons", "{{ 1 == 1.0 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 1 != 2 }} {{ none == none }} {{ 2 >= 2 }} {{ [1, 2] < [1, 3] }}", {}),
    ("logic_returns_operands", "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ not 0 }}|{{ none or [] }}", {}),
    ("ternary", "{{ 'yes' if x else 'no' }}|{{ 'only' if false }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}", {"x": 1}),
    ("if_elif_else", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}other{% endif %},{% endfor %}", {}),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nend", {}),
    ("lstrip_blocks", "start\n    {% if true %}\n    indented\n    {% endif %}\nend", {}),
    ("lstrip_not_after_text", "x {% if true %}y{% endif %}", {}),
    ("lstrip_not_for_variables", "    {{ 'v' }}\n", {}),
    ("dash_strips_both_sides", "a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n  c", {}),
    ("plus_keeps_whitespace", "a\n    {%+ if true +%}\nb{% endif %}", {}),
    ("comment_whitespace", "a\n  {# comment #}\nb\n{#- trimmed -#}\n  c", {}),
    ("variable_dash", "a  {{- 'b' -}}  c  {{ 'd' }}  e", {}),
    ("raw_block", "{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }}{{ loop.length }},{% endfor %}", {}),
    ("for_dict_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_scoping", "{% set x = 0 %}{% for i in [1, 2, 3] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}", {}),
    ("namespace_counter", "{% set ns = namespace(count=0, items=[]) %}{% for i in range(4) %}{% set ns.count = ns.count + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.count }} {{ ns.items }}", {}),
    ("set_tuple_unpack", "{% set a, b = 1, 'two' %}{{ a }}{{ b }}", {}),
    ("set_block", "{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]", {}),
    ("set_block_filter", "{% set block | upper %}shout{% endset %}{{ block }}", {}),
    ("macro_defaults", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_sees_later_globals", "{% macro m() %}{{ z }}{% endmacro %}{% set z = 5 %}{{ m() }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("generation_block", "{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    ("subscripts_slices", "{{ s[0] }}{{ s[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s[::2] }}{{ l[1:] }}{{ l[:-1] }}{{ l[-2:] }}{{ l[10:] }}{{ s[-100:2] }}", {"s": "héllo", "l": [1, 2, 3]}),
    ("attribute_item_fallback", "{{ d.a }}{{ d['a'] }}{{ l.0 }}{{ d.get('a') }}{{ d.get('zz', 'def') }}{{ d.get('zz') }}", {"d": {"a": 1}, "l": ["first"]}),
    ("dict_items_method_vs_key", "{{ d.items()|list }}|{{ d['items'] }}", {"d": {"items": "key value"}}),
    ("string_methods", "{{ ' x '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'MiXed'.upper() }}{{ 'MiXed'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abcabc'.find('c') }}|{{ 'abc'.count('b') }}|{{ '-'.join(['a', 'b']) }}|{{ '{} and {}'.format(1, 'two') }}", {}),
    ("filter_trim_length", "{{ '  pad  ' | trim }}|{{ 'xxyxx' | trim('x') }}|{{ 'héllo' | length }}|{{ [1, 2] | count }}|{{ {'a': 1} | length }}|{{ missing | length }}", {}),
    ("filter_case", "{{ 'hello WORLD' | upper }}|{{ 'HeLLo' | lower }}|{{ 'hello big-world (x)' | title }}|{{ 'hello World' | capitalize }}", {}),
    ("filter_replace_join", "{{ 'a-b-c' | replace('-', '+') }}|{{ 'abc' | replace('', '.') }}|{{ [1, 2, 3] | join(', ') }}|{{ ['a', 'b'] | join }}|{{ users | join(', ', attribute='name') }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter_default", "{{ missing | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ none | d('n') }}|{{ 0 | d('z', boolean=true) }}", {}),
    ("filter_first_last_list", "{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ 'abc' | first }}{{ 'abc' | list }}{{ {'a': 1} | list }}{{ [] | first }}", {}),
    ("filter_tojson", "{{ obj | tojson }}|{{ obj | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ [] | tojson(indent=4) }}|{{ obj | tojson(sort_keys=true) }}|{{ obj | tojson(separators=(',', ':')) }}", {"obj": {"z": 1, "a": [1.0, 2.5, True, None, "ü"], "e": {}}}),
    ("filter_numbers", "{{ '42' | int }}|{{ '4.7' | int }}|{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ 3.9 | int }}|{{ '3.5' | float }}|{{ 2 | float }}|{{ 'q' | float }}|{{ -3 | abs }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ 2.7 | round(0, 'floor') }}|{{ 5 | round }}|{{ '0x1A' | int(0, 16) }}", {}),
    ("filter_string", "{{ 12 | string }}|{{ none | string }}|{{ [1, 'a'] | string }}|{{ true | string }}", {}),
    ("filter_items_dictsort", "{{ d | items | list }}|{{ d | dictsort }}|{{ d | dictsort(by='value') }}|{{ d | dictsort(reverse=true) }}", {"d": {"b": 2, "A": 3, "c": 1}}),
    ("filter_select_map", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}|{{ [1, 2, 3, 4] | select('even') | list }}|{{ [1, 2, 3] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ msgs | selectattr('content') | list | length }}|{{ msgs | map(attribute='missing', default='-') | list }}", {"msgs": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": ""}, {"role": "user", "content": "u2"}]}),
    ("filter_sort_unique", "{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ people | sort(attribute='age') | map(attribute='n') | list }}|{{ ['a', 'A', 'b', 'a'] | unique | list }}|{{ [1, 5, 3] | max }}|{{ [1, 5, 3] | min }}|{{ [1, 2, 3] | sum }}", {"people": [{"n": "x", "age": 30}, {"n": "y", "age": 20}]}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x\\ny' | indent('> ') }}", {}),
    ("filter_misc", "{{ 'a <b> & \"c\"' | e }}|{{ 'x' | safe }}|{{ 'hello big world' | wordcount }}|{{ 'ab' | center(6) }}|{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}", {}),
    ("tests", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 1 is true }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is in 'abc' }}{{ 2 is eq 2 }}{{ 'b' is equalto 'b' }}{{ x is sameas 1 }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ none is not none }}{{ 5 is gt 3 }}{{ missing is iterable }}{{ true is number }}{{ 1 is boolean }}", {"x": 1}),
    ("dict_literal_and_methods", "{% set d = {'a': 1, 'b': [1, 2]} %}{{ d.keys() | list }}{{ d.values() | list }}{% for k, v in d | items %}{{ k }}{% endfor %}{{ 'a' in d }}{{ d | length }}", {}),
    ("range_forms", "{{ range(3) | list }}{{ range(1, 4) | list }}{{ range(10, 0, -3) | list }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }}|{{ dict({'c': 2}, d=3) }}", {}),
    ("string_escapes", "{{ 'tab\\there' }}|{{ \"q\\\"uote\" }}|{{ 'uni\\u00e9\\x41' }}|{{ 'a' 'b' }}", {}),
    ("none_attribute_is_undefined", "[{{ none.x }}]{{ none.x is defined }}", {}),
    ("integer_literals", "{{ 1_000 }}|{{ 1.5e3 }}|{{ 10 / 4 }}|{{ -2 ** 2 }}|{{ (-2) ** 2 }}", {}),
    ("filter_on_negative", "{{ -3 | abs }}|{{ - 'x' | length if false else 'ok' }}", {}),
    ("strftime_fixed_format", "{{ strftime_now('%%') }}", {}),
    ("lstrip_after_block_on_same_line", "{% if true %}  {% if true %}x{% endif %}{% endif %}\n  {% set y = 1 %}\n{{ y }}", {}),
    ("lstrip_comment_line", "a\n   {# c #}   \nb", {}),
    ("trim_after_variable_keeps_newline", "{{ 'x' }}\n{% if true %}\ny{% endif %}", {}),
    ("dash_in_comment_end", "a {#- c -#} b", {}),
    ("tab_indent_lstrip", "\t\t{% if true %}t{% endif %}", {}),
    ("lstrip_at_template_start", "   {% if true %}s{% endif %}", {}),
    ("endraw_whitespace", "a\n  {% raw -%}  r  {%- endraw %}\nb", {}),
    ("repr_unicode", "{{ ['é', '\u00a0', '\u2028', '\x07', 'tab\t'] }}", {}),
    ("repr_dict_nested", "{{ {'a': {'b': [1, (2, 3)]}, 1: none, 'q': \"it's\"} }}", {}),
    ("print_json_input_types", "{{ data }}|{{ data.f }}|{{ data.big }}", {"data": {"f": 2.0, "big": 12345678901234, "neg": -0.5, "u": "ü", "n": None, "t": True, "l": [1e-7, 1e22, 3.14]}}),
    ("float_formats", "{{ 1e22 }}|{{ 1.5e-7 }}|{{ 123456789012345678.0 }}|{{ 0.5 }}|{{ 100.0 }}|{{ 2.5e16 }}|{{ 9999999999999998.0 }}", {}),
    ("tojson_floats", "{{ [1e22, 1.5e-7, 0.1, 100.0, -0.0, 9223372036854775807] | tojson }}", {}),
    ("tojson_ensure_ascii", "{{ 'é😀\x01' | tojson(ensure_ascii=true) }}|{{ 'é😀\x7f' | tojson }}", {}),
    ("tojson_indent_string", "{{ {'a': [1]} | tojson(indent='\t') }}", {}),
    ("tojson_nested_empty", "{{ {'a': [], 'b': {}, 'c': [{}]} | tojson(indent=2) }}", {}),
    ("round_half_even", "{{ 0.5 | round }}|{{ 1.5 | round }}|{{ 2.675 | round(2) }}|{{ -2.5 | round }}|{{ 1.25 | round(1) }}|{{ 2.5 | round(0, 'ceil') }}", {}),
    ("loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("nested_loops_outer_loop", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [3, 4] %}{{ outer.index }}{{ loop.index }},{% endfor %}{% endfor %}", {}),
    ("loop_previtem_undefined", "{% for x in [1, 2] %}[{{ loop.previtem is defined }}{{ loop.nextitem is defined }}]{% endfor %}", {}),
    ("macro_caller_args", "{% macro list(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) list([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{{ b is defined }}{% endmacro %}{{ m(1) }}", {}),
    ("macro_default_refers_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", {}),
    ("set_in_if_leaks", "{% if true %}{% set v = 'in' %}{% endif %}{{ v }}", {}),
    ("messages_reassign", "{% set messages = messages[1:] %}{{ messages | length }}", {"messages": [{"role": "a"}, {"role": "b"}, {"role": "c"}]}),
    ("string_compare_unicode", "{{ 'é' > 'z' }}{{ 'B' < 'a' }}{{ [1, 'a'] == [1, 'a'] }}", {}),
    ("in_operator_forms", "{{ 'a' in ['a'] }}{{ 'k' in {'k': 1} }}{{ 1 in [1.0] }}{{ 'x' in missing }}{{ ('a', 1) in {'a': 1}.items() }}", {}),
    ("bool_arithmetic", "{{ true + true }}{{ true * 3 }}{{ 5 - false }}{{ true / 2 }}", {}),
    ("int_float_division", "{{ 7 / 7 }}|{{ 1 // 1.0 }}|{{ -1 // 3 }}|{{ 5 % -3 }}|{{ 5.5 % 2 }}|{{ 2 ** 0.5 }}|{{ 10 ** 15 }}", {}),
    ("concat_tilde_types", "{{ 1.0 ~ 2 ~ true ~ none ~ [1] }}", {}),
    ("is_defined_chain", "{{ a.b is defined }}{{ a.c is defined }}{{ a['b'] is defined }}{{ x is defined and x.y is defined }}", {"a": {"b": 1}}),
    ("filters_on_undefined", "[{{ missing | trim }}][{{ missing | upper }}][{{ missing | list }}][{{ missing | join(',') }}][{{ missing | string }}][{{ missing | items | list }}]", {}),
    ("selectattr_tests", "{{ ms | selectattr('tool_calls', 'defined') | list | length }}{{ ms | selectattr('tool_calls', 'undefined') | list | length }}{{ ms | rejectattr('role', 'in', ['user', 'system']) | map(attribute='role') | join(',') }}", {"ms": [{"role": "user"}, {"role": "assistant", "tool_calls": []}, {"role": "tool"}]}),
    ("map_filter_with_args", "{{ ['a,b', 'c'] | map('replace', ',', ';') | join('|') }}|{{ [1.26, 2.5] | map('round', 1) | list }}|{{ ['x'] | map('default', 'z') | list }}", {}),
    ("sort_dicts_attribute", "{{ items | sort(attribute='k') | map(attribute='v') | join }}{{ items | sort(attribute='k', reverse=true) | map(attribute='v') | join }}", {"items": [{"k": "b", "v": 1}, {"k": "a", "v": 2}, {"k": "B", "v": 3}]}),
    ("string_methods_more", "{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'x'.center(5) }}|{{ 'ab12'.isalnum() }}|{{ '12'.isdigit() }}|{{ ' '.isspace() }}|{{ 'hello'.index('l') }}|{{ 'hello'.rfind('l') }}|{{ 'AbC'.islower() }}|{{ 'it''s' }}|{{ 'a.b.c'.rsplit('.', 1) }}|{{ 'o\\'neil mc-d'.title() }}|{{ ''.split(',') }}|{{ ''.split() }}", {}),
    ("string_slice_unicode", "{{ '😀héllo'[1:4] }}|{{ '😀héllo' | length }}|{{ '😀héllo'[-1] }}|{{ '😀héllo'[0] }}", {}),
    ("list_index_out_of_range", "[{{ [1, 2][5] }}]{{ [1, 2][5] is defined }}[{{ 'ab'[9] }}]", {}),
    ("namespace_in_macro", "{% set ns = namespace(v=1) %}{% macro bump() %}{% set ns.v = ns.v + 1 %}{% endmacro %}{{ bump() }}{{ bump() }}{{ ns.v }}", {}),
    ("namespace_print", "{% set ns = namespace(a=1) %}{{ ns.a }}{{ ns.missing is defined }}", {}),
    ("for_over_string_and_tuple", "{% for c in 'ab' %}{{ c }}-{% endfor %}{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}", {}),
    ("for_loop_length_after_break", "{% for x in range(5) %}{{ loop.length }}{% if loop.index == 2 %}{% break %}{% endif %}{% endfor %}", {}),
    ("conditional_expression_precedence", "{{ 1 + 1 if false else 2 + 2 }}|{{ 'a' ~ 'b' if true }}|{{ not true or true }}|{{ not (true or true) }}", {}),
    ("filter_precedence", "{{ -1 | abs }}|{{ 1 + 2 | string }}|{{ 'a' ~ 1 | string }}|{{ [1, 2] | length * 2 }}", {}),
    ("test_precedence", "{{ 1 is number and 2 is odd }}|{{ not 1 is string }}|{{ x is not defined or x }}", {}),
    ("whitespace_in_tags", "{%if   true%}a{%endif%}{{1}}{{-'b'-}}{%- if true -%} c {%- endif -%}", {}),
    ("multiline_tag", "{% if\n  true\n  and true %}ok{% endif %}", {}),
    ("undefined_comparison", "{{ missing == missing }}{{ missing == none }}{{ missing != 1 }}", {}),
    ("join_mixed_types", "{{ [1, none, 'a', 2.5, true] | join('-') }}", {}),
    ("default_none_not_undefined", "{{ none | default('x') }}|{{ false | default('x') }}", {}),
    ("unique_case", "{{ ['A', 'a', 'B'] | unique | list }}|{{ ['A', 'a', 'B'] | unique(case_sensitive=true) | list }}", {}),
    ("capitalize_title_unicode", "{{ 'éLAN vital' | capitalize }}|{{ 'ünïcode wörds' | title }}|{{ 'ÀB' | lower }}", {}),
    ("length_of_dict_items", "{{ {'a': 1, 'b': 2}.items() | list | length }}", {}),
    ("error_call_undefined", "{{ missing_fn() }}", {}),
    ("error_not_callable", "{{ 'x'() }}", {}),
    ("error_sort_mixed", "{{ [1, 'a'] | sort }}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_compare_none", "{{ none < 1 }}", {}),
    ("error_undefined_in_arith", "{{ missing * 2 }}", {}),
    ("error_tojson_undefined", "{{ missing | tojson }}", {}),
    ("generator_truthy", "{{ 'yes' if [1] | select('even') else 'no' }}|{{ 'yes' if [] | map('upper') else 'no' }}", {}),
    ("generator_single_pass", "{% set g = [1, 2, 3] | select('odd') %}{{ g | list }}{{ g | list }}{% set m = [1, 2, 3] | map('string') %}{{ m | first }}{{ m | list }}", {}),
    ("generator_membership_consumes", "{% set g = [1, 2, 3] | select %}{{ 2 in g }}{{ g | list }}", {}),
    ("generator_tests", "{{ d | items is iterable }}{{ d | items is sequence }}{{ [1] | select is string }}", {"d": {"a": 1}}),
    ("reverse_kinds", "{{ [1, 2, 3] | reverse | list }}{{ {'a': 1, 'b': 2} | reverse | list }}{{ [1, 2] | select | reverse }}", {}),
    ("generator_loop", "{% for x in [3, 4] | map('string') %}{{ loop.index }}{{ x }}{{ loop.length }}{{ loop.last }}{% endfor %}", {}),
    ("error_generator_length", "{{ [1, 2] | select | length }}", {}),
    ("error_generator_tojson", "{{ [1, 2] | select | tojson }}", {}),
    ("error_generator_last", "{{ [1, 2] | select | last }}", {}),
    ("raise_exception_message", "{{ raise_exception('Custom failure: ' ~ x) }}", {"x": 7}),
    ("error_undefined_attribute", "{{ missing.attr }}", {}),
    ("error_dict_missing_attribute_op", "{{ d.y + 1 }}", {"d": {}}),
    ("error_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("error_int_plus_str", "{{ 1 + 'a' }}", {}),
    ("error_not_iterable", "{% for x in none %}{% endfor %}", {}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
    ("error_namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}", {}),
]


def language_cases():
    cases = []
    for name, source, context in LANGUAGE:
        case = {"name": name, "template": source, "context": context}
        try:
            case["expected"] = _compile_jinja_template(source).render(**context)
        except jinja2.exceptions.TemplateError as e:
            if type(e) is jinja2.exceptions.TemplateError:
                case["raise_exception"] = e.message
            else:
                case["error"] = f"{type(e).__name__}: {e}"
        except Exception as e:
            case["error"] = f"{type(e).__name__}: {e}"
        cases.append(case)
    return cases


# Facade cases: what HF adds around the template (tools/documents default to None, reasoning
# aliases), rendered through render_jinja_template: (name, template, messages, context).
FACADE = [
    ("tools_default_to_none", "{{ tools is none }}|{{ documents is none }}|{{ tools is defined }}", [], {}),
    ("reasoning_aliases", "{% for m in messages %}{{ m.keys() | list }}{{ m.thinking }}|{% endfor %}",
     [{"role": "assistant", "reasoning": "r", "content": "c"},
      {"role": "assistant", "content": "c", "thinking": "t"},
      {"role": "assistant", "content": "c", "reasoning_content": None}], {}),
    ("extra_kwargs_visible", "{{ custom_flag }}|{{ bos_token }}|{{ add_generation_prompt }}", [],
     {"custom_flag": [1, {"a": None}], "bos_token": "<s>"}),
    ("documents_given", "{% for d in documents %}{{ d.title }}:{{ d.text }};{% endfor %}", [],
     {"documents": [{"title": "T1", "text": "body"}]}),
]


def facade_cases():
    cases = []
    for name, source, messages, context in FACADE:
        rendered, _ = render_jinja_template(conversations=[messages], chat_template=source,
                                            add_generation_prompt=False, **context)
        cases.append({"name": name, "template": source, "messages": messages, "context": context,
                      "expected": rendered[0]})
    return cases


def main():
    out = {
        "_comment": (
            "Generated by tools/make_chat_template_goldens.py with jinja2 "
            f"{jinja2.__version__} and transformers {transformers.__version__}; do not edit by hand. "
            "'expected' is the rendered text, 'raise_exception' the message the template raised, "
            "'error' any other jinja2/Python error (the C++ renderer must raise too)."
        ),
        "templates": {name: info["origin"] for name, info in TEMPLATES.items()},
        "cases": template_cases(),
        "language": language_cases(),
        "facade": facade_cases(),
    }
    path = DATA / "cases.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    num_errors = sum(1 for c in out["cases"] if "expected" not in c)
    print(f"wrote {path}: {len(out['cases'])} template cases ({num_errors} raise), "
          f"{len(out['language'])} language cases")


if __name__ == "__main__":
    main()
