// Package jsonscan reads JSON text without decoding it: where a value
// ends, so that the API server and its clients can find a few members of
// a document (its kind, its metadata) or splice into it without a full
// decode.
//
// It is pure: it imports nothing but the standard library's byte
// functions, and no skiff package.
package jsonscan
