package config

import (
	"testing"
	"time"
)

func TestAlertsProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"webhook", func(c *Config) { c.Alerts.WebhookURL = "https://hooks.example.com/vakt?token=x" }, ""},
		{"disabled with a zero interval", func(c *Config) { c.Alerts.Enabled = false; c.Alerts.Interval = 0 }, ""},
		{"zero interval", func(c *Config) { c.Alerts.Interval = 0 }, "alerts.interval"},
		{"zero webhook timeout", func(c *Config) { c.Alerts.WebhookTimeout = Duration(-time.Second) }, "alerts.webhook_timeout"},
		{"webhook not http", func(c *Config) { c.Alerts.WebhookURL = "hooks.example.com/vakt" }, "alerts.webhook_url"},
		{"webhook ftp", func(c *Config) { c.Alerts.WebhookURL = "ftp://hooks.example.com/" }, "alerts.webhook_url"},
		{"too many retries", func(c *Config) { c.Alerts.WebhookRetries = 50 }, "alerts.webhook_retries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			ps := c.Problems()
			if tc.key == "" {
				if len(ps) != 0 {
					t.Fatalf("problems %v", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Key != tc.key || ps[0].Fix == "" {
				t.Fatalf("problems %v, want one for %s with a fix", ps, tc.key)
			}
		})
	}
}

func TestAlertsWebhookFromEnvironment(t *testing.T) {
	t.Setenv("VAKT_ALERTS_WEBHOOK_URL", "https://hooks.example.com/x")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerts.WebhookURL != "https://hooks.example.com/x" {
		t.Fatalf("webhook %q", c.Alerts.WebhookURL)
	}
}
