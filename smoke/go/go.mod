module smoke

go 1.25

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.196.0
	github.com/aws/constructs-go/constructs/v10 v10.4.2
	github.com/aws/jsii-runtime-go v1.140.0
	github.com/example/opa-lambda-extension-go/opalambdaextension v0.0.0
)

// The module jsii-pacmak just built; scripts/smoke.sh points this at dist/go in its work copy.
replace github.com/example/opa-lambda-extension-go/opalambdaextension => ../../dist/go/opalambdaextension
