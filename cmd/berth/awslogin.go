package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/iamlogin/iamsign"
)

// awsSettings are what `berth login --aws` saves besides the URL and
// login: where the registry checks AWS IAM logins. No secret is saved:
// each command signs a fresh login with the AWS credentials at hand.
type awsSettings struct {
	STSEndpoint string `json:"stsEndpoint"`
	Region      string `json:"region"`
}

// awsCredentials is the AWS SDK's default credential chain; tests
// replace it.
var awsCredentials = iamsign.Credentials

// awsLogin is `berth login --aws <registry> -u <tenancy>`: it asks the
// registry where it checks AWS logins, signs one, checks it at /token
// and saves the registry, the login and the endpoint.
func (c *cli) awsLogin(ctx context.Context, registry, user string) error {
	tenancy, u, _ := strings.Cut(user, "/")
	if tenancy == "" || (u != "" && u != auth.AWSUser) {
		return usagef("berth login --aws needs -u <tenancy> (the login is <tenancy>/aws), for example -u dev")
	}
	base, err := registryURL(registry)
	if err != nil {
		return err
	}
	info, err := c.awsInfo(ctx, base)
	if err != nil {
		return err
	}
	s := settings{URL: base, Username: tenancy + "/" + auth.AWSUser, AWS: &info}
	if s.Token, err = c.awsToken(ctx, s); err != nil {
		return err
	}
	cl := &client{settings: s, http: c.http}
	if err := cl.call(ctx, "GET", "/token", nil, nil, nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == 401 {
			return fmt.Errorf("AWS login to %s as %s failed: %s", base, s.Username, strings.TrimSuffix(ae.Message, "; log in again with berth login"))
		}
		return err
	}
	s.Token = "" // signed afresh by each command
	p, err := c.saveSettings(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Logged in to %s as %s with AWS credentials (saved in %s)\n", base, s.Username, p)
	return nil
}

// awsInfo asks the registry where it checks AWS IAM logins (GET
// /token?aws).
func (c *cli) awsInfo(ctx context.Context, base string) (awsSettings, error) {
	var info awsSettings
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/token?aws", nil)
	if err != nil {
		return info, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return info, fmt.Errorf("cannot reach the registry at %s: %w", base, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return info, answerError(res, b, "GET", "/token?aws")
	}
	if err := json.Unmarshal(b, &info); err != nil || info.STSEndpoint == "" || info.Region == "" {
		return info, fmt.Errorf("%s does not say where it checks AWS logins; is it a Berth registry with AWS IAM logins on?", base)
	}
	return info, nil
}

// awsToken signs a login for the saved registry with the AWS
// credentials at hand: good for 15 minutes.
func (c *cli) awsToken(ctx context.Context, s settings) (string, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", err
	}
	var creds aws.CredentialsProvider
	if creds, err = awsCredentials(ctx); err != nil {
		return "", err
	}
	return iamsign.Sign(ctx, creds, s.AWS.STSEndpoint, s.AWS.Region, u.Host, time.Now())
}

// awsTokenCmd is `berth aws-token`: it prints a fresh AWS login token for
// the saved registry, for `docker login -u <tenancy>/aws --password-stdin`.
func (c *cli) awsTokenCmd(ctx context.Context, args []string) error {
	fs := c.flags("aws-token",
		"Print a fresh AWS IAM login token for the registry saved by berth login --aws,\n"+
			"signed with your AWS credentials; it is good for 15 minutes. Example:\n\n"+
			"  berth aws-token | docker login registry.example.com -u dev/aws --password-stdin\n\n"+
			"For logins that never go stale, let docker run the credential helper\n"+
			"(docs/auth.md, \"AWS IAM logins\").")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := c.loadSettings()
	if err != nil {
		return err
	}
	if s.AWS == nil {
		return errors.New("the saved login is not an AWS one: run berth login --aws <registry> -u <tenancy>")
	}
	fmt.Fprintln(c.stdout, s.Token)
	return nil
}
