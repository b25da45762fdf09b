package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/resources"
	"github.com/osirisgo/osiris/internal/secrets"
)

func newCmdMCPResources(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resources",
		Short: "List and read osiris:// resources",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the static resources and the templates of runtime ones",
			Args:  cobra.NoArgs,
			RunE:  func(*cobra.Command, []string) error { return resourcesListRun(f) },
		},
		&cobra.Command{
			Use:   "read URI",
			Short: "Print one resource",
			Long: "Print the resource at an osiris://mcp/... or osiris://instructions/... URI. " +
				"Discovery artifacts, drafts and memory sessions are read only from under " +
				"their own project directory.",
			Example: "osiris mcp resources read osiris://mcp/usecases/catalog.yaml\n" +
				"osiris mcp resources read osiris://mcp/memory/sessions/chat-42.jsonl --json",
			Args: cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error { return resourcesReadRun(f, args[0]) },
		},
	)
	return cmd
}

func resourcesListRun(f *Factory) error {
	listing, err := resources.List()
	if err != nil {
		return err
	}
	if !f.JSON {
		for _, r := range listing.Resources {
			f.Printf("%-52s %s\n", r.URI, r.Name)
		}
		for _, r := range listing.ResourceTemplates {
			f.Printf("%-52s %s\n", r.URITemplate, r.Name)
		}
		return nil
	}
	return f.Success(map[string]any{
		"resources":          listing.Resources,
		"resource_templates": listing.ResourceTemplates,
		"count":              len(listing.Resources),
	})
}

func resourcesReadRun(f *Factory, uri string) error {
	content, err := resources.Read(uri, func() (*resources.Dirs, error) {
		project, err := f.Project()
		if err != nil {
			return nil, err
		}
		return &resources.Dirs{
			Discovery: project.DiscoveryCacheDir(),
			Drafts:    project.DraftsDir(),
			Memory:    project.MemoryDir(),
		}, nil
	})
	var resErr *resources.Error
	if errors.As(err, &resErr) {
		fields := map[string]any{
			"code":   resErr.Code(),
			"path":   []string{"uri"},
			"uri":    secrets.RedactText(uri),
			"detail": secrets.RedactText(resErr.Detail),
		}
		if resErr.IsReadFailure() {
			return FailureError("resource_read_failed", resErr.Message, fields)
		}
		return ValidationError("invalid_resource", resErr.Message, fields)
	}
	if err != nil {
		return err
	}

	if !f.JSON {
		f.Printf("%s", content.Text)
		return nil
	}
	return f.Success(map[string]any{
		"uri":       content.URI,
		"mime_type": content.MIMEType,
		"text":      content.Text,
	})
}
