package crew_test

// No logging, no global state, no goroutine started at import (guarantee
// 12), read from the source of the package and of its internal packages:
// no logger or output stream is imported or printed to, no init function
// runs, and every package-level variable is a value nobody writes (a
// sentinel error, a closed channel) made without starting a goroutine.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// constVars are the package-level variables that are not made by
// errors.New, each with why it is no state.
var constVars = map[string]string{
	"closedCh": "a channel closed as it is made; nothing sends on it or closes it again",
}

func TestNoLoggingNoGlobalStateNoGoroutineAtImport(t *testing.T) {
	files := sourceFiles(t)
	require.NotEmpty(t, files)
	for name, f := range files {
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			assert.NotContains(t, []string{"log", "log/slog", "os"}, path, "%s imports %s", name, path)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if fn := callee(call); printsSomewhere(fn) {
					assert.Failf(t, "crew prints", "%s calls %s", name, fn)
				}
			}
			return true
		})
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				assert.False(t, d.Recv == nil && d.Name.Name == "init", "%s has an init function", name)
			case *ast.GenDecl:
				if d.Tok == token.VAR {
					checkPackageVars(t, name, d)
				}
			}
		}
	}
}

// checkPackageVars checks the package-level variables of one var
// declaration: each is a sentinel error or one of constVars, and none of
// their initializers starts a goroutine.
func checkPackageVars(t *testing.T, file string, d *ast.GenDecl) {
	t.Helper()
	for _, spec := range d.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, id := range vs.Names {
			sentinel := i < len(vs.Values) && callee(asCall(vs.Values[i])) == "errors.New"
			_, known := constVars[id.Name]
			assert.True(t, id.Name == "_" || sentinel || known,
				"%s: package-level variable %s is global state (or add it to constVars, saying why it is not)", file, id.Name)
		}
		for _, v := range vs.Values {
			ast.Inspect(v, func(n ast.Node) bool {
				_, isGo := n.(*ast.GoStmt)
				assert.False(t, isGo, "%s: a package-level variable starts a goroutine at import", file)
				return !isGo
			})
		}
	}
}

// sourceFiles parses the non-test Go files of the package and of its
// internal packages.
func sourceFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	var names []string
	for _, pattern := range []string{"*.go", "internal/*/*.go"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		names = append(names, m...)
	}
	fset := token.NewFileSet()
	files := make(map[string]*ast.File)
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		files[name] = f
	}
	return files
}

// asCall returns e as a call, or nil.
func asCall(e ast.Expr) *ast.CallExpr {
	c, _ := e.(*ast.CallExpr)
	return c
}

// callee names what call calls: "pkg.Func", "Func", or "" for anything
// else (a method value, a func literal) or a nil call.
func callee(call *ast.CallExpr) string {
	if call == nil {
		return ""
	}
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok {
			return x.Name + "." + fn.Sel.Name
		}
	}
	return ""
}

// printsSomewhere reports whether fn writes to an output of the process:
// the print builtins, or fmt's printing to stdout or to a writer.
func printsSomewhere(fn string) bool {
	switch fn {
	case "print", "println":
		return true
	}
	rest, ok := strings.CutPrefix(fn, "fmt.")
	return ok && (strings.HasPrefix(rest, "Print") || strings.HasPrefix(rest, "Fprint"))
}
