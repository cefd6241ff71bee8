namespace Xar.Packer.Python;

/// <summary>
/// The Python code `xar python` runs with the build interpreter at pack time (with <c>-c</c>): the questions only
/// that interpreter can answer (its version, paths, bytecode), asked of it rather than guessed from outside.
/// </summary>
internal static class PythonHelperScripts
{
    /// <summary>
    /// Prints KEY=VALUE lines about the interpreter (<see cref="PythonInterpreter"/> reads them). Run without
    /// -I/-S, so that it sees pip where `python -m pip` would (Debian's is in the system site-packages).
    /// </summary>
    public const string Probe = """
        import importlib.util, os, sys, sysconfig
        v = sys.version_info
        print("version=%d.%d" % (v[0], v[1]))
        print("name=python%d.%d%s" % (v[0], v[1], getattr(sys, "abiflags", "")))
        print("implementation=" + sys.implementation.name)
        print("cache_tag=" + str(sys.implementation.cache_tag))
        print("executable=" + os.path.realpath(sys.executable))
        print("pip=" + ("1" if importlib.util.find_spec("pip") else "0"))
        print("stdlib=" + os.path.realpath(sysconfig.get_path("stdlib")))
        print("dynload=" + "".join(os.path.realpath(p) for p in sys.path if os.path.basename(p) == "lib-dynload")[:4096])
        """;

    /// <summary>
    /// argv: SITE_DIR MODULE [FUNC]. Finds MODULE as the packed app will (the interpreter's own paths, then
    /// SITE_DIR processed by site.addsitedir, so .pth files count) without importing it, and FUNC among the
    /// module's top-level names when its source is there to read. Prints one line and exits 0 when found,
    /// 3 when not (the line says what is missing).
    /// </summary>
    public const string CheckEntry = """
        import ast, importlib.machinery, importlib.util, site, sys
        site_dir, module = sys.argv[1], sys.argv[2]
        func = sys.argv[3] if len(sys.argv) > 3 else ""
        site.addsitedir(site_dir)

        def find(name):
            parts = name.split(".")
            spec = None
            for i in range(len(parts)):
                here = ".".join(parts[:i + 1])
                if i == 0:
                    spec = importlib.util.find_spec(here)
                else:
                    parent = sys.modules.get(".".join(parts[:i]))
                    locations = list(getattr(parent, "__path__", None) or spec.submodule_search_locations or [])
                    spec = importlib.machinery.PathFinder.find_spec(here, locations)
                if spec is None:
                    return None, here
                if i < len(parts) - 1 and spec.submodule_search_locations is None:
                    return None, ".".join(parts[:i + 2])
            return spec, name

        def top_level_names(tree):
            names, star = set(), False
            def visit(body):
                nonlocal star
                for node in body:
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        names.add(node.name)
                    elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                        for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                            for n in ast.walk(target):
                                if isinstance(n, ast.Name):
                                    names.add(n.id)
                    elif isinstance(node, (ast.Import, ast.ImportFrom)):
                        for alias in node.names:
                            if alias.name == "*":
                                star = True
                            else:
                                names.add(alias.asname or alias.name.split(".")[0])
                    for field in ("body", "orelse", "finalbody", "handlers"):
                        inner = getattr(node, field, None)
                        if isinstance(inner, list) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                            visit([n for n in inner if isinstance(n, ast.AST)])
            visit(tree.body)
            return names, star

        spec, missing = find(module)
        if spec is None:
            print("no module named " + missing)
            sys.exit(3)
        if not func and spec.submodule_search_locations is not None:
            main, _ = find(module + ".__main__")
            if main is None:
                print(module + " is a package without a __main__ module, so it cannot be run (name a module, or MODULE:FUNC)")
                sys.exit(3)
        if func and spec.origin and spec.origin.endswith(".py"):
            try:
                with open(spec.origin, "rb") as f:
                    tree = ast.parse(f.read(), spec.origin)
            except (OSError, SyntaxError, ValueError):
                tree = None
            if tree is not None:
                names, star = top_level_names(tree)
                first = func.split(".")[0]
                if first not in names and not star and first != "__getattr__":
                    print(module + " has no " + first)
                    sys.exit(3)
        print("found " + module)
        """;

    /// <summary>
    /// argv: ROOT DIR...: compiles every .py under ROOT/DIR (in name order, one process, so the bytes are the same
    /// every time) into its __pycache__ .pyc, hash-based and unchecked (the loader reads neither the source's
    /// time nor the source), with its path inside the image as the file name. Prints "failed PATH" for a file
    /// that does not compile (left as source) and "compiled N" at the end.
    /// </summary>
    public const string Compile = """
        import importlib.util, os, py_compile, sys
        root = sys.argv[1]
        mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
        count = 0
        for top in sys.argv[2:]:
            for directory, dirs, files in os.walk(os.path.join(root, top)):
                dirs.sort()
                for name in sorted(files):
                    if not name.endswith(".py"):
                        continue
                    path = os.path.join(directory, name)
                    relative = os.path.relpath(path, root)
                    try:
                        py_compile.compile(path, cfile=importlib.util.cache_from_source(path), dfile=relative,
                                           doraise=True, invalidation_mode=mode)
                        count += 1
                    except (py_compile.PyCompileError, SyntaxError, ValueError):
                        print("failed " + relative)
        print("compiled %d" % count)
        """;
}
