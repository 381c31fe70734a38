# Several entry points in one module, and values of every JSON kind, for path resolution tests.
package app.multi

greeting := sprintf("hello %s", [input.name])

echo := input

limits := {"max": 3, "tiers": ["free", "pro"], "nested": {"flag": true}}

user_count := count(data.app.multi.users)
