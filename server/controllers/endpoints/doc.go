// Package endpoints keeps a core/v1 Endpoints object beside every Service
// that has a selector, listing the pods the selector matches: ready pods
// under addresses, the others under notReadyAddresses (all under
// addresses with publishNotReadyAddresses), named target ports resolved
// per pod, hostnames for headless Services, at most 1000 addresses.
//
// Endpoints of Services without a selector belong to their users (and the
// `kubernetes` Service's to server/controllers/kubernetesservice): this
// package never writes them. Desired is pure; Controller is the loop on
// informers. It talks to the API through server/kubeclient only and must
// not import storage, the apiserver or anything under agent/.
package endpoints
