# A complete rule that produces two different values when both conditions hold: OPA reports a
# conflict at run time (https://www.openpolicyagent.org/docs/policy-language#complete-definitions).
package app.conflict

x := 1 if input.a

x := 2 if input.b
