package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Media types the registry stores as manifests.
const (
	MediaTypeImageManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex     = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeSchema1        = "application/vnd.docker.distribution.manifest.v1"
	// MediaTypeEmptyJSON is the OCI empty descriptor's type, used as the
	// config of artifacts.
	MediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"
)

// errSchema1 refuses Docker's schema 1 manifests.
//
//lint:ignore ST1005 "Docker" is a name, capitalised wherever it stands
var errSchema1 = errors.New("Docker image manifest schema 1 is not supported; push with a current client (schema 2 or OCI)")

// MaxManifestSize is the largest manifest accepted, as the spec recommends
// (4 MiB).
const MaxManifestSize = 4 << 20

// Descriptor is the OCI content descriptor.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
}

// Platform is an index entry's platform.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// Manifest is the union of the fields of the manifest kinds the registry
// stores (image manifest, index, and their Docker counterparts).
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// IsIndex reports whether the manifest lists other manifests.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeImageIndex || mediaType == MediaTypeDockerList
}

// ParseManifest parses a manifest body sent with the given Content-Type
// and returns it with its effective media type. It refuses Docker schema 1,
// unknown types, and a body whose mediaType field contradicts the header.
func ParseManifest(contentType string, body []byte) (*Manifest, string, error) {
	if len(body) > MaxManifestSize {
		return nil, "", fmt.Errorf("manifest is %d bytes; the limit is %d", len(body), MaxManifestSize)
	}
	ct := strings.TrimSpace(strings.Split(contentType, ";")[0])
	if strings.HasPrefix(ct, mediaTypeSchema1) {
		return nil, "", errSchema1
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, "", fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	mt := ct
	switch {
	case m.MediaType != "" && (ct == "" || ct == "application/json" || ct == "application/octet-stream"):
		mt = m.MediaType
	case m.MediaType != "" && m.MediaType != ct:
		return nil, "", fmt.Errorf("Content-Type %q does not match the manifest's mediaType %q", ct, m.MediaType)
	}
	if mt == "" || mt == "application/json" || mt == "application/octet-stream" {
		// An untyped body: infer what OCI clients mean.
		switch {
		case m.Manifests != nil:
			mt = MediaTypeImageIndex
		case m.Config != nil:
			mt = MediaTypeImageManifest
		}
	}
	switch mt {
	case MediaTypeImageManifest, MediaTypeDockerManifest:
		if m.Config == nil {
			return nil, "", fmt.Errorf("image manifest has no config descriptor")
		}
		if m.Manifests != nil {
			return nil, "", fmt.Errorf("image manifest must not carry a manifests list")
		}
	case MediaTypeImageIndex, MediaTypeDockerList:
		if m.Config != nil || m.Layers != nil {
			return nil, "", fmt.Errorf("image index must not carry config or layers")
		}
	default:
		if strings.HasPrefix(mt, mediaTypeSchema1) {
			return nil, "", errSchema1
		}
		return nil, "", fmt.Errorf("manifest media type %q is not supported", mt)
	}
	if m.SchemaVersion != 2 {
		return nil, "", fmt.Errorf("schemaVersion must be 2, got %d", m.SchemaVersion)
	}
	for _, d := range m.References() {
		if err := d.Digest.Validate(); err != nil {
			return nil, "", fmt.Errorf("descriptor digest %q: %v", d.Digest, err)
		}
		if d.Size < 0 {
			return nil, "", fmt.Errorf("descriptor %s has a negative size", d.Digest)
		}
	}
	if m.Subject != nil {
		if err := m.Subject.Digest.Validate(); err != nil {
			return nil, "", fmt.Errorf("subject digest %q: %v", m.Subject.Digest, err)
		}
	}
	return &m, mt, nil
}

// References lists the config, layers and child manifests the manifest
// refers to (not its subject, which need not exist).
func (m *Manifest) References() []Descriptor {
	var out []Descriptor
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	out = append(out, m.Layers...)
	return append(out, m.Manifests...)
}

// NonDistributable reports whether a layer's media type marks it as one a
// registry must not require (OCI non-distributable and Docker foreign
// layers): their bytes live elsewhere.
func NonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || strings.Contains(mediaType, ".foreign.")
}

// EffectiveArtifactType is the artifactType a referrers response reports
// for a manifest: its artifactType field, else its config's media type.
func (m *Manifest) EffectiveArtifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

// ImageSize is an image manifest's config plus layers in bytes: what a
// pull downloads besides the manifest. It is zero for an index (whose
// children each have their own).
func (m *Manifest) ImageSize() int64 {
	if m.Config == nil {
		return 0
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}
