# The smoke apps' policy, compiled at synth by OpaBundle.fromRego (`opa build -t wasm -b .`).
package app.authz

default allow := false

allow if {
	some role in data.app.authz.users[input.user]
	role == "admin"
}
