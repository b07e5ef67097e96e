package auth

import (
	"bytes"
	"crypto/sha256"
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"go/types"
	"regexp"
	"strings"
	"testing"
)

func TestNewAuthTokenShape(t *testing.T) {
	shape := regexp.MustCompile(`^bt_([a-z2-7]{16})_([a-z2-7]{32})$`)
	seen := map[string]bool{}
	for range 50 {
		id, secret, hash := NewAuthToken()
		m := shape.FindStringSubmatch(secret)
		if m == nil {
			t.Fatalf("secret %q does not look like bt_<16>_<32> in lower-case base32", secret)
		}
		if m[1] != id {
			t.Errorf("secret %q carries id %q, want %q", secret, m[1], id)
		}
		if want := sha256.Sum256([]byte(m[2])); !bytes.Equal(hash, want[:]) {
			t.Errorf("hash is not the SHA-256 of the secret part")
		}
		if bytes.Contains(hash, []byte(m[2])) || strings.Contains(string(hash), id) {
			t.Error("the stored hash holds the secret or id in clear")
		}
		if seen[id] || seen[secret] {
			t.Fatalf("NewAuthToken repeated %q", id)
		}
		seen[id], seen[secret] = true, true
		gotID, gotSecret, ok := ParseAuthToken(secret)
		if !ok || gotID != id || gotSecret != m[2] || !SecretMatches(hash, gotSecret) {
			t.Errorf("ParseAuthToken(%q) = %q, %q, %v; or the secret does not match its hash", secret, gotID, gotSecret, ok)
		}
	}
}

func TestParseAuthTokenRefuses(t *testing.T) {
	id16, s32 := strings.Repeat("a", 16), strings.Repeat("b", 32)
	for _, in := range []string{
		"",
		"bt_",
		id16 + "_" + s32,               // no prefix
		"BT_" + id16 + "_" + s32,       // prefix is exact
		"bt_" + id16 + s32,             // no separator
		"bt_" + id16[1:] + "_" + s32,   // short id
		"bt_" + id16 + "a_" + s32,      // long id
		"bt_" + id16 + "_" + s32[1:],   // short secret
		"bt_" + id16 + "_" + s32 + "b", // long secret
	} {
		if id, secret, ok := ParseAuthToken(in); ok {
			t.Errorf("ParseAuthToken(%q) = %q, %q, true; want refused", in, id, secret)
		}
	}
}

func TestSecretMatches(t *testing.T) {
	_, full, hash := NewAuthToken()
	_, secret, _ := ParseAuthToken(full)
	tests := []struct {
		name   string
		hash   []byte
		secret string
		want   bool
	}{
		{"the secret", hash, secret, true},
		{"one character changed", hash, secret[:31] + string(rune(secret[31])^1), false},
		{"the whole token instead of its secret part", hash, full, false},
		{"empty secret", hash, "", false},
		{"truncated hash", hash[:16], secret, false},
		{"nil hash", nil, secret, false},
		{"the hash itself as the secret", hash, string(hash), false},
	}
	for _, tc := range tests {
		if got := SecretMatches(tc.hash, tc.secret); got != tc.want {
			t.Errorf("%s: SecretMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSecretsAreComparedInConstantTime pins how secret.go compares: a
// timing test would be flaky, so this reads the source instead. The only
// comparison of a secret's hash must be crypto/subtle's.
func TestSecretsAreComparedInConstantTime(t *testing.T) {
	f, err := goparser.ParseFile(gotoken.NewFileSet(), "secret.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var matches *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "SecretMatches" {
			matches = fd
		}
	}
	if matches == nil {
		t.Fatal("secret.go has no SecretMatches")
	}
	calls := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok {
					calls[x.Name+"."+sel.Sel.Name] = true
				}
			}
		case *ast.BinaryExpr:
			// Comparing lengths, nil or literals is fine; comparing two
			// computed values with == is how timing leaks start.
			if (n.Op == gotoken.EQL || n.Op == gotoken.NEQ) && !trivial(n.X) && !trivial(n.Y) {
				t.Errorf("secret.go compares %s with ==/!=; use subtle.ConstantTimeCompare", types.ExprString(n))
			}
		}
		return true
	})
	if !calls["subtle.ConstantTimeCompare"] {
		t.Error("secret.go does not use subtle.ConstantTimeCompare")
	}
	for _, bad := range []string{"bytes.Equal", "strings.EqualFold", "bytes.Compare", "strings.Compare"} {
		if calls[bad] {
			t.Errorf("secret.go calls %s, which is not constant time", bad)
		}
	}
}

// trivial reports whether e is a literal, nil or a len(...) call.
func trivial(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	case *ast.CallExpr:
		id, ok := e.Fun.(*ast.Ident)
		return ok && id.Name == "len"
	}
	return false
}
