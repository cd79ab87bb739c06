package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// Workload identity federation (issue 12):
// gatehouse service-principals federation-policies list|create|get|update|delete.

// maxJWKSFile bounds a --jwks-file read by the CLI (the server bounds it too).
const maxJWKSFile = 256 << 10

func (c *clientCLI) federationPoliciesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "federation-policies",
		Aliases: []string{"federation-policy", "fed"},
		Short:   "Manage the federation policies of a service principal (admins): which outside JWTs may sign in as it",
		Long: `A federation policy lets a workload sign in as the service principal with a JWT its
platform gives it (a CI OIDC token, a Kubernetes service-account token), exchanged at
POST /oidc/v1/token, instead of a stored Gatehouse token. The JWT's iss must equal
--issuer, its aud name one of --audience, and its subject claim (--subject-claim, default
sub) equal --subject exactly.`,
	}
	list := &cobra.Command{
		Use:     "list APPID",
		Aliases: []string{"ls"},
		Short:   "List the federation policies of a service principal",
		Example: "  gatehouse service-principals federation-policies list ci-deployer",
		Args:    cliExactArgs("APPID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ps, err := api.ListFederationPolicies(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.show(map[string]any{"policies": ps}, func() error { return c.federationTable(ps) })
		},
	}
	get := &cobra.Command{
		Use:     "get APPID POLICY_ID",
		Short:   "Show one federation policy",
		Example: "  gatehouse service-principals federation-policies get ci-deployer 01J...",
		Args:    cliExactArgs("APPID", "POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			p, err := api.GetFederationPolicy(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return c.showFederationPolicy(p)
		},
	}

	type policyFlags struct {
		issuer, subject, subjectClaim, jwksFile string
		audiences                               []string
	}
	bind := func(cmd *cobra.Command, f *policyFlags) {
		cmd.Flags().StringVar(&f.issuer, "issuer", "", "the JWT issuer, exactly as its iss claim says it (an https:// URL)")
		cmd.Flags().StringArrayVar(&f.audiences, "audience", nil, "an accepted aud value (repeat for several)")
		cmd.Flags().StringVar(&f.subject, "subject", "", "the subject the JWT must carry, matched exactly")
		cmd.Flags().StringVar(&f.subjectClaim, "subject-claim", "", "the claim holding the subject (default sub)")
		cmd.Flags().StringVar(&f.jwksFile, "jwks-file", "", "a JWKS file of the issuer's public keys, for an issuer Gatehouse cannot reach (\"\" on update: use discovery again)")
	}
	request := func(cmd *cobra.Command, f *policyFlags) (httpapi.FederationPolicyRequest, error) {
		var req httpapi.FederationPolicyRequest
		if cmd.Flags().Changed("issuer") {
			req.Issuer = &f.issuer
		}
		if cmd.Flags().Changed("audience") {
			req.Audiences = &f.audiences
		}
		if cmd.Flags().Changed("subject") {
			req.Subject = &f.subject
		}
		if cmd.Flags().Changed("subject-claim") {
			req.SubjectClaim = &f.subjectClaim
		}
		if cmd.Flags().Changed("jwks-file") {
			jwks := ""
			if f.jwksFile != "" {
				b, err := readJWKSFile(f.jwksFile)
				if err != nil {
					return req, fmt.Errorf("read %s: %w", f.jwksFile, err)
				}
				jwks = strings.TrimSpace(string(b))
			}
			req.JWKSJSON = &jwks
		}
		return req, nil
	}

	var cf policyFlags
	create := &cobra.Command{
		Use:   "create APPID --issuer URL --audience AUD --subject SUB",
		Short: "Add a federation policy to a service principal",
		Example: `  gatehouse service-principals federation-policies create ci-deployer \
    --issuer https://token.actions.githubusercontent.com --audience gatehouse \
    --subject repo:acme/app:ref:refs/heads/main
  gatehouse service-principals federation-policies create sync-job \
    --issuer https://kubernetes.default.svc --audience gatehouse \
    --subject system:serviceaccount:prod:sync --jwks-file cluster-jwks.json`,
		Args: cliExactArgs("APPID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cf.issuer == "" || len(cf.audiences) == 0 || cf.subject == "" {
				return errors.New("want --issuer, at least one --audience and --subject")
			}
			req, err := request(cmd, &cf)
			if err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			p, err := api.CreateFederationPolicy(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return c.showFederationPolicy(p)
		},
	}
	bind(create, &cf)

	var uf policyFlags
	update := &cobra.Command{
		Use:     "update APPID POLICY_ID [--issuer URL] [--audience AUD]... [--subject SUB] [--subject-claim C] [--jwks-file F]",
		Short:   "Change a federation policy; flags left out keep their values",
		Example: "  gatehouse service-principals federation-policies update ci-deployer 01J... --subject repo:acme/app:environment:prod",
		Args:    cliExactArgs("APPID", "POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := request(cmd, &uf)
			if err != nil {
				return err
			}
			if req == (httpapi.FederationPolicyRequest{}) {
				return errors.New("nothing to change: give --issuer, --audience, --subject, --subject-claim or --jwks-file")
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			p, err := api.UpdateFederationPolicy(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			return c.showFederationPolicy(p)
		},
	}
	bind(update, &uf)

	del := &cobra.Command{
		Use:     "delete APPID POLICY_ID",
		Aliases: []string{"rm"},
		Short:   "Remove a federation policy (tokens it issued live out their short lives)",
		Example: "  gatehouse service-principals federation-policies delete ci-deployer 01J...",
		Args:    cliExactArgs("APPID", "POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if err := api.DeleteFederationPolicy(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return c.show(map[string]string{}, func() error {
				_, err := fmt.Fprintf(c.e.stdout, "Deleted federation policy %s of %s.\n", args[1], args[0])
				return err
			})
		},
	}
	cmd.AddCommand(list, create, get, update, del)
	return cmd
}

func (c *clientCLI) federationTable(ps []httpapi.FederationPolicyInfo) error {
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		keys := "discovery"
		if p.JWKSJSON != "" {
			keys = "jwks_json"
		}
		rows = append(rows, []string{p.ID, p.Issuer, strings.Join(p.Audiences, ","), p.SubjectClaim + "=" + p.Subject, keys})
	}
	return c.table([]string{"ID", "ISSUER", "AUDIENCES", "SUBJECT", "KEYS"}, rows)
}

func (c *clientCLI) showFederationPolicy(p *httpapi.FederationPolicyInfo) error {
	return c.show(p, func() error {
		keys := "the issuer's discovery document"
		if p.JWKSJSON != "" {
			keys = "jwks_json (in the policy)"
		}
		return c.fields([][2]string{
			{"ID", p.ID}, {"Service principal", p.ServicePrincipal}, {"Issuer", p.Issuer},
			{"Audiences", strings.Join(p.Audiences, ", ")}, {"Subject claim", p.SubjectClaim}, {"Subject", p.Subject},
			{"Keys", keys}, {"Created", p.CreateTime}, {"Updated", p.UpdateTime},
		})
	})
}

// readJWKSFile reads --jwks-file, at most maxJWKSFile bytes.
func readJWKSFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return cliReadLimitedN(f, maxJWKSFile)
}
