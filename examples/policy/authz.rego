# The example app's policy: role-based access, with the role grants kept as data.
# `npx projen demo` compiles it to WebAssembly with the pinned OPA:
#   opa build -t wasm -e app/authz/allow -e app/authz/reasons authz.rego data.json
package app.authz

default allow := false

# A user may do an action on a resource when one of their roles grants exactly that.
allow if {
	some grant in grants
	grant.action == input.action
	grant.resource == input.resource
}

grants contains grant if {
	some role in data.users[input.user].roles
	some grant in data.roles[role]
}

reasons contains msg if {
	not data.users[input.user]
	msg := sprintf("unknown user %q", [input.user])
}

reasons contains msg if {
	data.users[input.user]
	not allow
	msg := sprintf("no role of %s grants %s on %s", [input.user, input.action, input.resource])
}
