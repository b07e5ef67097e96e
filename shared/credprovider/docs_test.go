package credprovider_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	kubeletconfig "k8s.io/kubelet/config/v1"
	"sigs.k8s.io/yaml"
)

// yamlBlocks are docs/keyless.md's YAML code blocks.
func yamlBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/keyless.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDocsKubeletConfigIsTheKubeletsSchema reads docs/keyless.md's
// CredentialProviderConfig with the kubelet's own type, strictly (a
// misspelt or misplaced field fails), and checks what the provider
// needs of it.
func TestDocsKubeletConfigIsTheKubeletsSchema(t *testing.T) {
	var found bool
	for _, block := range yamlBlocks(t) {
		if !strings.Contains(block, "kind: CredentialProviderConfig") {
			continue
		}
		found = true
		var cfg kubeletconfig.CredentialProviderConfig
		if err := yaml.UnmarshalStrict([]byte(block), &cfg); err != nil {
			t.Fatalf("the docs' kubelet configuration does not decode strictly: %v", err)
		}
		if cfg.APIVersion != "kubelet.config.k8s.io/v1" || len(cfg.Providers) != 1 {
			t.Fatalf("config %+v", cfg)
		}
		p := cfg.Providers[0]
		ta := p.TokenAttributes
		switch {
		case p.Name != "berth-credential-provider":
			t.Errorf("provider name %q is not the binary's", p.Name)
		case p.APIVersion != "credentialprovider.kubelet.k8s.io/v1":
			t.Errorf("provider apiVersion %q", p.APIVersion)
		case p.DefaultCacheDuration == nil || len(p.MatchImages) == 0:
			t.Errorf("defaultCacheDuration and matchImages are required")
		case ta == nil || ta.ServiceAccountTokenAudience == "" || ta.RequireServiceAccount == nil:
			t.Errorf("tokenAttributes must set the audience and requireServiceAccount: %+v", ta)
		case ta.CacheType != kubeletconfig.TokenServiceAccountTokenCacheType && ta.CacheType != kubeletconfig.ServiceAccountServiceAccountTokenCacheType:
			t.Errorf("tokenAttributes.cacheType %q is not one the kubelet takes", ta.CacheType)
		}
	}
	if !found {
		t.Fatal("docs/keyless.md holds no CredentialProviderConfig")
	}
}

// TestDocsRecipesParse checks the other YAML of docs/keyless.md parses,
// and the CI recipes ask for what keyless logins need.
func TestDocsRecipesParse(t *testing.T) {
	var github, gitlab bool
	for _, block := range yamlBlocks(t) {
		for _, doc := range strings.Split(block, "\n---\n") {
			var v map[string]any
			if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
				t.Errorf("a YAML block of docs/keyless.md does not parse: %v\n%s", err, doc)
			}
			if p, ok := v["permissions"].(map[string]any); ok && p["id-token"] == "write" {
				github = true
			}
			if j, ok := v["push"].(map[string]any); ok && j["id_tokens"] != nil {
				gitlab = true
			}
		}
	}
	if !github || !gitlab {
		t.Errorf("recipes: GitHub Actions with id-token: write %v, GitLab CI with id_tokens %v", github, gitlab)
	}
}
