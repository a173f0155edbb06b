package seed

// The word lists the generator composes names and texts from. Composing
// (area × action × qualifier) gives tens of thousands of distinct, plausible
// feature names from a few hundred words, so a 10,000-feature demo does not
// read as the same ten rows repeated, and search and sort have something to
// chew on.

// areas are the product areas a feature belongs to: the "Checkout" of
// "Checkout: apply discount codes".
var areas = []string{
	"Checkout", "Cart", "Billing", "Payments", "Invoices", "Search", "Catalog",
	"Onboarding", "Accounts", "Auth", "Profile", "Notifications", "Admin",
	"Reporting", "Analytics", "Inventory", "Shipping", "Orders", "Returns",
	"Subscriptions", "Mobile", "Public API", "Dashboard", "Settings",
	"Integrations", "Support", "Reviews", "Pricing",
}

// curatedActions are hand-written verb phrases; they make the most
// believable names, so a good share of features use one.
var curatedActions = []string{
	"apply discount codes", "use dark mode", "enable two-factor authentication with TOTP",
	"sign in with a magic link", "track orders in real time", "get faster autocomplete suggestions",
	"search products with typo tolerance", "receive a weekly digest email",
	"export sales figures as CSV", "split a payment across two cards", "reorder with one click",
	"save addresses for later", "pay with Apple Pay", "see estimated delivery dates",
	"invite teammates by email", "set a spending limit per team", "download invoices as PDF",
	"roll back a bad price import", "schedule reports to run nightly", "pause a subscription",
	"request a refund without contacting support", "merge duplicate customer accounts",
	"see low-stock alerts", "bulk-update product prices", "rotate API tokens",
	"retry failed webhooks with backoff", "filter orders by status and date",
	"compare plans side by side", "restore deleted items from the trash",
	"translate the storefront into German", "upload a profile photo", "change the billing currency",
	"print shipping labels", "accept gift cards", "see tax broken down per line",
	"connect a Slack workspace", "set quiet hours for notifications", "pin favourite reports",
}

// verbs and objects make the generic actions: "export invoices".
var verbs = []string{
	"export", "import", "bulk-edit", "archive", "filter", "search", "sort", "audit changes to",
	"sync", "preview", "validate", "paginate", "cache", "localize", "share", "schedule",
	"restore deleted", "merge duplicate", "tag", "favourite", "compare", "approve",
	"attach files to", "comment on", "deduplicate", "show the history of", "set limits on",
}

var objects = []string{
	"discount codes", "invoices", "saved addresses", "orders", "user roles", "API tokens",
	"webhooks", "shipping rates", "product reviews", "gift cards", "tax rates",
	"payment methods", "email templates", "team invites", "audit logs", "feature flags",
	"refunds", "subscriptions", "wishlists", "stock levels", "price lists", "support tickets",
	"reports", "dashboards", "customer segments", "coupons", "carts", "returns", "warehouses",
	"SSO connections",
}

// qualifiers narrow an action; most names have none.
var qualifiers = []string{
	"for guest users", "on mobile", "per region", "in bulk", "behind a feature flag",
	"for enterprise accounts", "(v2)", "in the admin panel", "via the public API",
	"with keyboard shortcuts", "for EU customers", "in multiple currencies", "with undo", "offline",
}

var personas = []string{
	"shopper", "store admin", "support agent", "finance manager", "developer integrating via the API",
	"new user", "returning customer", "warehouse operator", "marketing manager", "account owner",
}

var benefits = []string{
	"I can finish my task without contacting support",
	"we reduce checkout abandonment",
	"month-end closing takes less time",
	"mistakes are caught before they reach customers",
	"I can find what I need in seconds",
	"we meet our compliance requirements",
	"the team spends less time on manual work",
	"customers trust us with their data",
	"I do not lose work when something goes wrong",
	"we can measure whether the change pays off",
}

var details = []string{
	"Out of scope: legacy accounts created before 2019.",
	"Requires a database migration; coordinate with the data team.",
	"Track adoption with the existing analytics events.",
	"Must work on screens down to 320px wide.",
	"Design: see the Figma file linked in the epic.",
	"Performance budget: p95 under 200 ms.",
	"Roll out gradually behind a feature flag.",
	"Legal has signed off on the wording.",
	"Needs a matching change in the mobile apps.",
	"Support needs a runbook before launch.",
}

// scenario is one test case template: its title, the step that exercises
// it and what should happen.
type scenario struct{ title, step, expected string }

// scenarios are the test cases' templates; every feature also gets a happy
// path test named after its action.
var scenarios = []scenario{
	{"Rejects invalid input", "Submit the form with a required field left empty", "An inline error explains what to fix; nothing is saved."},
	{"Shows a helpful error when the network fails", "Go offline in the dev tools and submit", "A retryable error is shown and no data is lost."},
	{"Works for guest users", "Sign out and repeat the flow as a guest", "The flow completes without asking the user to sign in."},
	{"Respects role permissions", "Sign in as a read-only user and try the action", "The action is hidden and the API answers 403."},
	{"Survives a page reload", "Reload the page halfway through", "The form keeps what was entered."},
	{"Handles an empty list", "Open the page for an account with no data", "A friendly empty state with a call to action is shown."},
	{"Handles 10,000 items without slowing down", "Load the seeded large account", "The page renders in under 2 seconds."},
	{"Is usable with the keyboard only", "Complete the flow using Tab, Enter and Escape only", "Every control is reachable and focus is visible."},
	{"Screen reader announces the result", "Complete the flow with VoiceOver on", "The outcome is announced once."},
	{"Records an audit log entry", "Complete the flow, then open the audit log", "One entry names the user, the action and the time."},
	{"Localizes dates and currencies", "Switch the locale to de-DE and repeat", "Dates and amounts use German formats."},
	{"Works on iOS Safari", "Repeat the flow on an iPhone", "Layout and behaviour match desktop."},
	{"Works on Android Chrome", "Repeat the flow on a Pixel", "Layout and behaviour match desktop."},
	{"Concurrent edits do not lose data", "Edit the same record in two tabs and save both", "The second save is rejected with a conflict message."},
	{"Is idempotent when retried", "Replay the request with the same idempotency key", "Exactly one record exists afterwards."},
	{"Rate limit returns 429", "Send 100 requests in one second", "Requests over the limit get 429 with Retry-After."},
	{"Undo restores the previous state", "Complete the action, then click Undo", "Everything is back as it was."},
	{"Emails are sent exactly once", "Complete the flow and check the mail catcher", "Exactly one email arrives."},
	{"Feature flag off hides the feature", "Turn the flag off and reload", "No trace of the feature is visible."},
	{"Handles timezone boundaries", "Set the clock to 23:59 UTC and repeat", "The record lands on the right day for the user's timezone."},
	{"Truncates long names gracefully", "Enter a 255-character name", "The name is truncated with an ellipsis and a tooltip."},
	{"Stores Unicode input unchanged", "Enter 'Zoë 東京 🚀' in every text field", "The text is shown back exactly as typed."},
}

// firstSteps open every test case's steps.
var firstSteps = []string{
	"Sign in as a %s.", "Open the staging app as a %s.", "Log in with the seeded %s account.",
}

var happyExpected = []string{
	"The change is saved and a confirmation is shown.",
	"The result appears immediately and survives a reload.",
	"A success toast is shown and the list updates.",
}

// environments are the deployment targets, in pipeline order (dev first,
// production last), with how often each is deployed to.
var environments = []struct {
	name   string
	weight int
}{
	{"dev", 10}, {"qa", 20}, {"staging", 35}, {"canary", 10}, {"production", 25},
}

// releaseBranches are the release branches builds come from.
var releaseBranches = []string{"release/1.2", "release/1.3", "release/1.4", "release/1.5", "release/2.0"}

// stageErrors are the failures a stage can end with.
var stageErrors = [4][]string{
	{ // PRE_CHECKS
		"health check failed: 3 of 12 instances unhealthy",
		"change freeze in effect for this environment",
		"required approval missing",
	},
	{ // BUILD_ARTIFACTS
		"docker build failed: step 7/12 exited with code 1",
		"artifact upload timed out after 300s",
		"dependency checksum mismatch",
	},
	{ // PREPARE_INFRASTRUCTURE
		"terraform apply failed: instance quota exceeded",
		"could not acquire lock on the state file",
		"load balancer did not become healthy in 10m",
	},
	{ // EXECUTE
		"rollout stalled: 2 of 6 pods in CrashLoopBackOff",
		"smoke tests failed: GET /healthz returned 503",
		"database migration timed out after 600s",
	},
}

// stageMessages are the events' messages per stage: running, succeeded,
// failed (followed by the error) and cancelled.
var stageMessages = [4][4]string{
	{"Running pre-checks", "Pre-checks passed", "Pre-checks failed: ", "Pre-checks cancelled"},
	{"Building artifacts", "Artifacts built and pushed", "Artifact build failed: ", "Artifact build cancelled"},
	{"Preparing infrastructure", "Infrastructure ready", "Infrastructure preparation failed: ", "Infrastructure preparation cancelled"},
	{"Rolling out", "Rollout complete", "Rollout failed: ", "Rollout cancelled"},
}

// users cancel deployments.
var users = []string{"alice", "bob", "chen.wei", "dmitri", "fatima", "jordan", "maria.garcia", "sam", "yuki"}
