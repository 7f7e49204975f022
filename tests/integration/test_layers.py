"""scripts/check-layers: it passes on the tree, and it fails, naming file and
line, on a store call from a handler and on an include that runs upward."""
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-layers"


def run(src):
    return subprocess.run([sys.executable, str(SCRIPT), str(src)], capture_output=True, text=True, timeout=60)


def test_the_tree_keeps_its_layers():
    p = run(ROOT / "src")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == ""


def inject(path, text, after):
    """Inserts text after the first line matching `after`; returns its line number."""
    lines = path.read_text().split("\n")
    i = next(k for k, line in enumerate(lines) if re.search(after, line))
    lines[i + 1:i + 1] = text.split("\n")
    path.write_text("\n".join(lines))
    return i + 2


def test_a_store_call_and_an_upward_include_are_named(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src)
    handler = src / "api" / "subjects.c"
    call_line = inject(handler, "static void sneak(struct store *st)\n{\n"
                       "\tstruct store_subject s;\n\t(void)store_subject_get(st, 1, \"x\", &s);\n}",
                       r"^#include ") + 3
    core = src / "core" / "audit.c"
    include_line = inject(core, '#include "api/http.h"', r"^#include ")
    # Neither a comment nor a string counts.
    inject(src / "api" / "meta.c", '/* store_subject_get(st) is not called here */\n'
           'static const char note[] = "store_counts(";', r"^#include ")

    p = run(src)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout.splitlines()
    assert f"{handler}:{call_line}: api calls store_subject_get(): reach the store through a core function" in out, out
    assert f'{core}:{include_line}: upward include: core may not include "api/http.h" (api)' in out, out
    assert len(out) == 2, out


def test_a_library_outside_its_layer_is_named(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src)
    line = inject(src / "core" / "consent.c", "#include <jansson.h>", r"^#include ")
    p = run(src)
    assert p.returncode == 1
    assert p.stdout.strip() == f"{src / 'core' / 'consent.c'}:{line}: core includes <jansson.h>, which only api, cli may use"


def test_an_include_against_the_order_inside_core_is_named(tmp_path):
    """core's modules form a chain, written at the top of core/ctx.h: record
    is listed above subject, so record may not include subject."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src)
    line = inject(src / "core" / "record.c", '#include "core/subject.h"', r"^#include ")
    p = run(src)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout.strip() == (f"{src / 'core' / 'record.c'}:{line}: upward include inside core: record may not "
                                f'include "core/subject.h" (listed below it in src/core/ctx.h)')


def test_a_core_module_missing_from_the_order_is_named(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src)
    (src / "core" / "extra.c").write_text('/* extra */\n#include "core/audit.h"\n')
    p = run(src)
    assert p.returncode == 1
    assert "core module extra is not in the order" in p.stdout
