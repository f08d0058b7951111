"""Generates tests/chat/jinja2_cases.json: small templates with the output jinja2 gives them in the
environment Hugging Face renders chat templates with. test_chat (C++) renders the same templates and
must match. Regenerate: .venv/bin/python tests/chat/make_jinja2_cases.py"""
import pathlib
import json, jinja2, jinja2.ext, jinja2.sandbox
cases = [
 ("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 10 / 4 * 2 }}", {}),
 ("{{ 'a' + 'b' ~ 1 }}|{{ 'ab' * 3 }}|{{ [1] + [2, 3] }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.1 + 0.2 }}|{{ 1e-5 }}|{{ 123456789012345678 }}", {}),
 ("{{ x is defined }}{{ y is undefined }}{{ n is none }}{{ s is string }}{{ d is mapping }}{{ l is iterable }}{{ 3 is number }}{{ l is sequence }}{{ t is boolean }}{{ t is true }}{{ t is false }}{{ 2 is in l }}{{ 2 is equalto 2 }}{{ 3 is eq 2 }}", {"x":1,"n":None,"s":"q","d":{},"l":[1,2],"t":True}),
 ("{{ 'b' in 'abc' }}{{ 'z' not in 'abc' }}{{ 'k' in d }}{{ 3 in l }}{{ x is not none }}{{ not x }}", {"d":{"k":1},"l":[1,2],"x":0}),
 ("{{ 'yes' if a else 'no' }}|{{ 'yes' if b }}|{{ a or 'dflt' }}|{{ a and 'both' }}", {"a":"A","b":False}),
 ("{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[::-1] }}{{ l[:-1] }}{{ l[::2] }}{{ s[1:3] }}{{ s[-2:] }}{{ s[::-1] }}{{ s|length }}", {"l":[1,2,3,4],"s":"héllo"}),
 ("{{ '  x  '|trim }}|{{ 'Hi'|lower }}{{ 'Hi'|upper }}|{{ 'hello world'|capitalize }}|{{ 'hello wORLD-x'|title }}|{{ l|first }}{{ l|last }}|{{ l|join(', ') }}|{{ u|default('d') }}|{{ ''|default('e', true) }}|{{ 3|string }}{{ '42'|int + 1 }}|{{ 'x'|list }}|{{ s|replace('l', 'L') }}|{{ l|length }}", {"l":[1,2,3],"s":"hello"}),
 ("{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}{% for k, v in d.items() %}{{ k }}{% endfor %}{{ d.keys()|list }}{{ d.values()|list }}{{ d.get('a') }}{{ d.get('z', 9) }}{{ d.get('z') }}", {"d":{"b":1,"a":2}}),
 ("{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('|') }};{{ msgs|rejectattr('role', 'eq', 'user')|list|length }};{{ msgs|map(attribute='role')|list }}", {"msgs":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}),
 ("{{ 'a.b.c'.split('.') }}{{ ' a  b '.split() }}{{ 'xxhixx'.strip('x') }}{{ '\\n\\nq\\n'.lstrip('\\n') }}{{ 'q  '.rstrip() }}{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'aaa'.replace('a', 'b', 2) }}{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}{{ 'hello world'.title() }}", {}),
 ("{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ [] | tojson }}|{{ {} | tojson(indent=4) }}|{{ 'é\"\\n\\t'|tojson }}", {"d":{"b":[1,2.5,None,True],"a":{"x":"ü"}}}),
 ("{% for i in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}", {"l":["a","b","c"]}),
 ("{% for i in l if i != 'b' %}{{ i }}{{ loop.index }}{{ loop.last }}{% else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}", {"l":["a","b","c"]}),
 ("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}|{{ range(3)|list }}{{ range(1, 7, 2)|list }}", {}),
 ("{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }};{% endfor %}{{ x }}|{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}|{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
 ("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set blk %}in {{ a }}{% endset %}[{{ blk }}]", {}),
 ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", {}),
 ("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ x }}{% endcall %}", {"x":1}),
 ("{{ l }}{{ d }}{{ n }}{{ t }}{{ u }}{{ 'it\\'s' }}{{ [\"it's\", 'a\\nb'] }}", {"l":[1,"a",None,2.5],"d":{"k":"v"},"n":None,"t":True}),
 ("  {% if true %}\n    yes\n  {% endif %}\n{# comment #}\n  {%- if true -%}  \n  trimmed  \n  {%- endif %}\n{{ 'x' }}\n{{- 'y' -}}\n  z  {%+ if true %}keep{% endif +%}\nend\n", {}),
 ("{% filter upper %}shout {{ x }}{% endfilter %}|{{ x|abs }}|{{ [3,1,2]|sort|list }}|{{ [3,1,2]|max }}{{ [3,1,2]|min }}{{ [1,2]|sum }}|{{ ['a','A','b']|unique|list }}|{{ 'a\\nb'|indent(2) }}", {"x":-3}),
 ("{{ strftime_now('%d %b %Y') }}|{{ bos_token }}{{ eos_token }}", {"bos_token":"<s>","eos_token":"</s>"}),
 ("{% if enable_thinking is defined and enable_thinking is false %}off{% else %}on{% endif %}", {"enable_thinking": False}),
 ("{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ none == none }}{{ 2 >= 2 }}{{ 1 != 2 }}", {}),
]
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
import datetime
env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["strftime_now"] = lambda f: datetime.datetime.fromtimestamp(1722000000, tz=datetime.timezone.utc).strftime(f)
out = []
for t, c in cases:
    out.append({"template": t, "context": c, "expected": env.from_string(t).render(**c)})
doc = {"generated_by": "tests/chat/make_jinja2_cases.py (jinja2 " + jinja2.__version__ + ")", "now_unix": 1722000000, "cases": out}
path = pathlib.Path(__file__).with_name("jinja2_cases.json")
path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
