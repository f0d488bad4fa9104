// Package certs creates and loads vcdb's certificates (CA, node, client) and
// builds TLS configurations from them and from connection URIs. It imports no
// other package of the project.
package certs
