# Role-based access: data.app.rbac.bindings maps users to roles and data.app.rbac.grants maps roles
# to the actions they may take on each resource type. Entry points: app/rbac/allow,
# app/rbac/reasons (or app/rbac for the whole package).
package app.rbac

default allow := false

allow if count(granted) > 0

granted contains role if {
	some role in data.app.rbac.bindings[input.user]
	some grant in data.app.rbac.grants[role]
	grant.action == input.action
	grant.type == input.type
}

reasons contains msg if {
	not data.app.rbac.bindings[input.user]
	msg := sprintf("user %s has no role", [input.user])
}

reasons contains msg if {
	data.app.rbac.bindings[input.user]
	count(granted) == 0
	msg := sprintf("no role of %s may %s a %s", [input.user, input.action, input.type])
}
