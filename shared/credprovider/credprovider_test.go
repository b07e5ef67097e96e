package credprovider_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/kubelet/pkg/apis/credentialprovider/install"
	kubeletv1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/credprovider"
	"github.com/berth-registry/berth/shared/oidc/oidctest"
	"github.com/berth-registry/berth/shared/store"
)

// kubelet encodes requests and decodes responses as the kubelet does:
// its own types, and its strict decoder (an unknown field, or a
// missing apiVersion or kind, is an error).
type kubelet struct{ codecs serializer.CodecFactory }

func newKubelet() kubelet {
	s := runtime.NewScheme()
	install.Install(s)
	return kubelet{serializer.NewCodecFactory(s, serializer.EnableStrict)}
}

func (k kubelet) request(t *testing.T, image, saToken string) []byte {
	t.Helper()
	info, _ := runtime.SerializerInfoForMediaType(k.codecs.SupportedMediaTypes(), "application/json")
	enc := k.codecs.EncoderForVersion(info.Serializer, kubeletv1.SchemeGroupVersion)
	b, err := runtime.Encode(enc, &kubeletv1.CredentialProviderRequest{Image: image, ServiceAccountToken: saToken})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (k kubelet) response(t *testing.T, b []byte) *kubeletv1.CredentialProviderResponse {
	t.Helper()
	obj, err := runtime.Decode(k.codecs.UniversalDecoder(kubeletv1.SchemeGroupVersion), b)
	if err != nil {
		t.Fatalf("the kubelet's decoder refuses the response %s: %v", b, err)
	}
	res, ok := obj.(*kubeletv1.CredentialProviderResponse)
	if !ok {
		t.Fatalf("decoded %T", obj)
	}
	return res
}

// cluster is a registry whose tenancy dev trusts a Kubernetes issuer
// for service account ci:puller, acting as group pullers (read).
type cluster struct {
	host   string
	issuer *oidctest.Issuer
	admin  string
}

func startCluster(t *testing.T) cluster {
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Auth: true, Service: "berth", TokenTTL: 5 * time.Minute,
		PresignTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "error", OIDCLoopback: true}
	host, l := harness.Start(t, cfg)
	iss := oidctest.NewServer(t).Issuer("/cluster", "RS256")
	ctx, ids := context.Background(), l.Stores.IDs
	for _, err := range []error{
		ids.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "pullers"}),
		ids.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "pull", Statements: []string{"allow group pullers to read repos in tenancy where target.repo.name = /team/*/"}}),
		ids.PutFederationRule(ctx, store.FederationRule{Tenancy: "dev", Name: "cluster", Issuer: iss.URL, Audience: "berth-pull",
			Claims: map[string]string{"sub": "system:serviceaccount:ci:puller"}, Group: "pullers", MaxLifetimeSeconds: 300}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cluster{host: host, issuer: iss, admin: l.AdminToken}
}

func TestProviderExchangesTheServiceAccountTokenAndContainerdPulls(t *testing.T) {
	c := startCluster(t)
	k := newKubelet()
	ref, err := name.ParseReference(c.host+"/dev/team/app:1.4", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: c.admin})); err != nil {
		t.Fatalf("push as dev/admin: %v", err)
	}

	var out bytes.Buffer
	sa := c.issuer.Token(oidctest.Kubernetes("ci", "puller", "berth-pull"))
	if err := credprovider.Run(t.Context(), bytes.NewReader(k.request(t, c.host+"/dev/team/app:1.4", sa)), &out, credprovider.Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	res := k.response(t, out.Bytes())
	if res.CacheKeyType != kubeletv1.ImagePluginCacheKeyType || res.CacheDuration == nil ||
		res.CacheDuration.Duration <= 0 || res.CacheDuration.Duration > 5*time.Minute-30*time.Second {
		t.Fatalf("cache %q for %v, want Image for less than the token's 5 minutes", res.CacheKeyType, res.CacheDuration)
	}
	cred, ok := res.Auth[c.host+"/dev/team/app"]
	if !ok || len(res.Auth) != 1 || cred.Username != "dev/oidc" || cred.Password == "" || cred.Password == sa {
		t.Fatalf("auth %+v, want one registry token for %s/dev/team/app as dev/oidc", res.Auth, c.host)
	}

	// What containerd does with it: the token flow with these Basic
	// credentials, then a pull.
	as := remote.WithAuth(&authn.Basic{Username: cred.Username, Password: cred.Password})
	got, err := remote.Image(ref, as)
	if err != nil {
		t.Fatalf("pull with the provider's credentials: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("pulled %s, pushed %s", d, want)
	}
	other, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, other, as); err == nil {
		t.Fatal("the provider's credentials pushed")
	}
}

func TestProviderRefusesAndAnswersWithoutCredentials(t *testing.T) {
	c := startCluster(t)
	k := newKubelet()
	run := func(req []byte) (string, error) {
		var out bytes.Buffer
		err := credprovider.Run(t.Context(), bytes.NewReader(req), &out, credprovider.Options{})
		return out.String(), err
	}
	image := c.host + "/dev/team/app:1.4"
	for _, tc := range []struct {
		name string
		req  []byte
		msg  string
	}{
		{"another service account", k.request(t, image, c.issuer.Token(oidctest.Kubernetes("ci", "builder", "berth-pull"))), "claims meet no federation rule"},
		{"another audience", k.request(t, image, c.issuer.Token(oidctest.Kubernetes("ci", "puller", "kubernetes"))), "audience"},
		{"a repository the group cannot read", k.request(t, c.host+"/dev/secret/app:1", c.issuer.Token(oidctest.Kubernetes("ci", "puller", "berth-pull"))), "no pull on dev/secret/app"},
		{"an image without a tenancy", k.request(t, c.host+"/app:1", "x"), "not <registry>/<tenancy>/<repository>"},
		{"another protocol version", []byte(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","kind":"CredentialProviderRequest","image":"` + image + `"}`), "only credentialprovider.kubelet.k8s.io/v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || out != "" {
				t.Fatalf("Run = %q, %v; want an error saying %q and no answer", out, err, tc.msg)
			}
		})
	}
	// A pod without a service account (requireServiceAccount: false):
	// no credentials, nothing cached.
	out, err := run(k.request(t, image, ""))
	if err != nil {
		t.Fatal(err)
	}
	if res := k.response(t, []byte(out)); len(res.Auth) != 0 || res.CacheDuration == nil || res.CacheDuration.Duration != 0 {
		t.Fatalf("response without a token: %s", out)
	}
}
