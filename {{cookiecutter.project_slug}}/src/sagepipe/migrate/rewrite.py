"""Source rewrites: helpers get their globals as arguments, file paths become folders."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from pathlib import PurePosixPath

WRITER_METHODS = frozenset(
    {
        "to_csv",
        "to_parquet",
        "to_json",
        "to_pickle",
        "to_excel",
        "savefig",
        "save_model",
        "write_text",
        "write_bytes",
    }
)
WRITER_FUNCTIONS = frozenset({"dump", "save", "savez", "savetxt", "imwrite"})
_FILE_SUFFIXES = (
    ".csv",
    ".parquet",
    ".json",
    ".joblib",
    ".pkl",
    ".pickle",
    ".png",
    ".jpg",
    ".svg",
    ".txt",
    ".xlsx",
    ".h5",
    ".npy",
    ".npz",
    ".onnx",
    ".bin",
    ".model",
)


class _HelperCalls(ast.NodeTransformer):
    def __init__(self, needs: dict[str, list[str]]) -> None:
        self.needs = needs
        self.used_partial = False

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        if isinstance(func, ast.Name) and self.needs.get(func.id):
            given = {k.arg for k in node.keywords}
            for name in self.needs[func.id]:
                if name not in given:
                    node.keywords.append(ast.keyword(arg=name, value=ast.Name(name, ast.Load())))
            return node
        node.func = self.visit(func)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        # A helper passed along (df.apply(clean)) is bound to its globals with partial().
        if isinstance(node.ctx, ast.Load) and self.needs.get(node.id):
            self.used_partial = True
            return ast.Call(
                func=ast.Attribute(ast.Name("functools", ast.Load()), "partial", ast.Load()),
                args=[node],
                keywords=[
                    ast.keyword(arg=n, value=ast.Name(n, ast.Load())) for n in self.needs[node.id]
                ],
            )
        return node


def pass_globals(statement: ast.stmt, needs: dict[str, list[str]]) -> tuple[ast.stmt, bool]:
    """Copy of ``statement`` where calls to helpers pass the globals they read; (stmt, partial?)."""
    if not any(needs.values()):
        return statement, False
    transformer = _HelperCalls(needs)
    rewritten = transformer.visit(copy.deepcopy(statement))
    ast.fix_missing_locations(rewritten)
    return rewritten, transformer.used_partial


def add_keyword_parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, names: list[str]) -> None:
    """Make ``names`` keyword-only parameters of ``node`` (in place)."""
    existing = {a.arg for a in [*node.args.args, *node.args.kwonlyargs]}
    for name in names:
        if name not in existing:
            node.args.kwonlyargs.append(ast.arg(arg=name))
            node.args.kw_defaults.append(None)


class _Paths(ast.NodeTransformer):
    def __init__(
        self, data_file: Callable[[str], tuple[str, str] | None], output_folder: str | None
    ) -> None:
        self.data_file = data_file
        self.output_folder = output_folder
        self.changes: list[str] = []
        self.created: set[int] = set()

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and id(node) not in self.created:
            found = self.data_file(node.value)
            if found:
                self.changes.append(f"{node.value!r} -> {found[0]} / {found[1]!r}")
                return _folder_file(found[0], found[1])
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # Output paths first, so a file an earlier run left behind is not taken for data.
        if self.output_folder and is_writer(node):
            node.args = [self._output(a) for a in node.args]
        self.generic_visit(node)
        return node

    def _output(self, arg: ast.expr) -> ast.expr:
        if (
            isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            and arg.value.lower().endswith(_FILE_SUFFIXES)
            and "://" not in arg.value
        ):
            file = PurePosixPath(arg.value).name
            self.changes.append(f"{arg.value!r} -> {self.output_folder} / {file!r}")
            assert self.output_folder is not None
            replacement = _folder_file(self.output_folder, file)
            self.created.update(id(n) for n in ast.walk(replacement))
            return replacement
        return arg


def is_writer(node: ast.Call) -> bool:
    """True for calls that write a file named by an argument (``df.to_csv(path)``, ``dump``)."""
    name = (
        node.func.attr
        if isinstance(node.func, ast.Attribute)
        else (node.func.id if isinstance(node.func, ast.Name) else "")
    )
    if name in WRITER_METHODS or name in WRITER_FUNCTIONS:
        return True
    return (
        name == "open"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and any(mode in str(node.args[1].value) for mode in "wax")
    )


def written_constants(statement: ast.AST) -> set[int]:
    """ids of the string constants a statement writes to (never data inputs)."""
    found: set[int] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Call) and is_writer(node):
            found.update(id(a) for a in node.args if isinstance(a, ast.Constant))
    return found


def _folder_file(folder: str, file: str) -> ast.expr:
    return ast.Call(
        func=ast.Name("str", ast.Load()),
        args=[ast.BinOp(ast.Name(folder, ast.Load()), ast.Div(), ast.Constant(file))],
        keywords=[],
    )


def relocate_paths(
    statement: ast.stmt,
    data_file: Callable[[str], tuple[str, str] | None],
    output_folder: str | None,
) -> tuple[ast.stmt, list[str]]:
    """Copy of ``statement`` reading data files from input folders and writing into the
    step's output folder; returns it with a description of each change."""
    transformer = _Paths(data_file, output_folder)
    rewritten = transformer.visit(copy.deepcopy(statement))
    ast.fix_missing_locations(rewritten)
    return rewritten, transformer.changes
