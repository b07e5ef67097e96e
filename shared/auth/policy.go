// Package auth is Berth's identity and access model, as Oracle Cloud
// Infrastructure Registry has it: policy statements written in OCIR's
// form, the verbs they grant, and how a principal's groups and a
// repository's visibility decide a request. It is plain Go: no storage,
// no AWS.
package auth

import (
	"fmt"
	"strings"
	"unicode"
)

// Verb is a level of access to repositories; each includes the ones
// below it.
type Verb int

// Verbs, weakest first.
const (
	// Inspect lists repositories.
	Inspect Verb = iota + 1
	// Read pulls.
	Read
	// Use pulls and pushes.
	Use
	// Manage does everything: delete images and repositories, create
	// repositories, change visibility and tag immutability.
	Manage
)

var verbNames = map[string]Verb{"inspect": Inspect, "read": Read, "use": Use, "manage": Manage}

// String returns the verb's policy keyword.
func (v Verb) String() string {
	for k, x := range verbNames {
		if x == v {
			return k
		}
	}
	return fmt.Sprintf("verb(%d)", int(v))
}

// AdminGroup is the group that manages everything in its tenancy,
// whatever the policies say.
const AdminGroup = "administrators"

// Statement is one parsed policy statement.
type Statement struct {
	// Group is the group the statement grants to.
	Group string
	// Verb is the access granted.
	Verb Verb
	// Repo, when set, limits the statement to repositories whose name
	// (without the tenancy namespace) matches: exactly, or as a glob
	// where '*' matches any sequence of characters, '/' included.
	Repo string
	// Glob says Repo is a pattern (written /.../), not a literal name.
	Glob bool
	// Text is the statement as written.
	Text string
}

// ParseError says where a statement is wrong.
type ParseError struct {
	Column int
	Msg    string
	Text   string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("column %d: %s (in %q)", e.Column, e.Msg, e.Text)
}

type token struct {
	text string
	col  int // 1-based
	kind byte
}

const (
	tkWord    = 'w'
	tkQuoted  = 'q'
	tkPattern = 'p'
	tkEquals  = '='
)

// MaxStatementLength bounds one statement.
const MaxStatementLength = 1024

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=':
			out = append(out, token{"=", i + 1, tkEquals})
			i++
		case c == '\'' || c == '"' || c == '/':
			end := strings.IndexByte(s[i+1:], c)
			if c == '/' {
				// A pattern holds slashes of its own (/team/*/): it is
				// the statement's last token, so it ends at the last '/'.
				end = strings.LastIndexByte(s[i+1:], '/')
			}
			if end < 0 {
				return nil, &ParseError{i + 1, fmt.Sprintf("unterminated %c", c), s}
			}
			kind := byte(tkQuoted)
			if c == '/' {
				kind = tkPattern
			}
			out = append(out, token{s[i+1 : i+1+end], i + 1, kind})
			i += end + 2
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' && s[j] != '=' && s[j] != '\'' && s[j] != '"' {
				j++
			}
			out = append(out, token{s[i:j], i + 1, tkWord})
			i = j
		}
	}
	return out, nil
}

// ParseStatement parses one statement:
//
//	allow group <group> to <inspect|read|use|manage> repos in tenancy
//	    [where target.repo.name = '<name>' | where target.repo.name = /<pattern>/]
//
// Keywords are case-insensitive. The error names the column at fault.
func ParseStatement(s string) (Statement, error) {
	text := strings.TrimSpace(s)
	if len(text) > MaxStatementLength {
		return Statement{}, &ParseError{MaxStatementLength, fmt.Sprintf("statement longer than %d characters", MaxStatementLength), text[:40] + "…"}
	}
	toks, err := lex(text)
	if err != nil {
		return Statement{}, err
	}
	p := parser{toks: toks, text: text}
	st := Statement{Text: text}
	if err := p.keyword("allow"); err != nil {
		return st, err
	}
	if err := p.keyword("group"); err != nil {
		return st, err
	}
	g, err := p.name("a group name")
	if err != nil {
		return st, err
	}
	st.Group = g
	if err := p.keyword("to"); err != nil {
		return st, err
	}
	vt, ok := p.next()
	if !ok || vt.kind != tkWord {
		return st, p.errAt(vt, "expected a verb: inspect, read, use or manage")
	}
	if st.Verb = verbNames[strings.ToLower(vt.text)]; st.Verb == 0 {
		return st, p.errAt(vt, fmt.Sprintf("unknown verb %q; expected inspect, read, use or manage", vt.text))
	}
	for _, kw := range []string{"repos", "in", "tenancy"} {
		if err := p.keyword(kw); err != nil {
			return st, err
		}
	}
	if p.done() {
		return st, nil
	}
	for _, kw := range []string{"where", "target.repo.name"} {
		if err := p.keyword(kw); err != nil {
			return st, err
		}
	}
	if t, ok := p.next(); !ok || t.kind != tkEquals {
		return st, p.errAt(t, "expected '='")
	}
	t, ok := p.next()
	switch {
	case ok && t.kind == tkQuoted:
		st.Repo = t.text
	case ok && t.kind == tkPattern:
		st.Repo, st.Glob = t.text, true
	default:
		return st, p.errAt(t, "expected a repository name in quotes ('app') or a pattern in slashes (/team-*/)")
	}
	if err := validRepoPattern(st.Repo); err != nil {
		return st, p.errAt(t, err.Error())
	}
	if !p.done() {
		t, _ := p.next()
		return st, p.errAt(t, fmt.Sprintf("unexpected %q after the where clause", t.text))
	}
	return st, nil
}

func validRepoPattern(s string) error {
	if s == "" {
		return fmt.Errorf("empty repository name")
	}
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLower(r) || unicode.IsDigit(r) || strings.ContainsRune("._-/*", r))) {
			return fmt.Errorf("repository name or pattern %q may only hold a-z, 0-9, '.', '_', '-', '/' and '*'", s)
		}
	}
	return nil
}

type parser struct {
	toks []token
	pos  int
	text string
}

func (p *parser) done() bool { return p.pos >= len(p.toks) }

func (p *parser) next() (token, bool) {
	if p.done() {
		return token{col: len(p.text) + 1}, false
	}
	t := p.toks[p.pos]
	p.pos++
	return t, true
}

func (p *parser) errAt(t token, msg string) error {
	if t.text == "" && t.col > len(p.text) {
		msg += ", found the end of the statement"
	}
	return &ParseError{Column: t.col, Msg: msg, Text: p.text}
}

func (p *parser) keyword(kw string) error {
	t, ok := p.next()
	if !ok || t.kind != tkWord || !strings.EqualFold(t.text, kw) {
		if ok {
			return p.errAt(t, fmt.Sprintf("expected %q, found %q", kw, t.text))
		}
		return p.errAt(t, fmt.Sprintf("expected %q", kw))
	}
	return nil
}

func (p *parser) name(what string) (string, error) {
	t, ok := p.next()
	if !ok || (t.kind != tkWord && t.kind != tkQuoted) || !validGroup(t.text) {
		return "", p.errAt(t, "expected "+what+" (letters, digits, '.', '_', '-')")
	}
	return t.text, nil
}

func validGroup(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r))) {
			return false
		}
	}
	return true
}

// ParsePolicy parses a policy's statements, one per entry, naming the
// statement at fault.
func ParsePolicy(statements []string) ([]Statement, error) {
	out := make([]Statement, 0, len(statements))
	for i, s := range statements {
		st, err := ParseStatement(s)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// Matches reports whether the statement covers a repository (its name
// without the tenancy namespace).
func (s Statement) Matches(repo string) bool {
	if s.Repo == "" {
		return true
	}
	if !s.Glob {
		return s.Repo == repo
	}
	return GlobMatch(s.Repo, repo)
}

// GlobMatch matches '*' against any sequence, '/' included (path.Match
// stops at '/'): policy statements' repository patterns and federation
// rules' claim conditions.
func GlobMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
