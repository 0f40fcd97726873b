-- Argo CD resource health check for osc.openfn.org/OpenFnJob.
-- Install it under resource.customizations in argocd-cm (see examples/gitops/README.md).
-- Healthy when the operator has seen the current spec and reports Ready=True;
-- Degraded when the operator reports Stalled=True (kstatus) or Ready=False for a reason that
-- waiting will not fix; Progressing otherwise.
local hs = {}
local degraded = {
  InvalidSpec = true,
  CredentialNotFound = true,
  AdaptorInstallFailed = true,
  JobNotFound = true,
  ChildFailed = true,
}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the osc operator to reconcile this job"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the osc operator to observe generation " .. generation
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Stalled" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.message or condition.reason or "Stalled"
    return hs
  end
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    local message = condition.message or condition.reason or ""
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif condition.status == "False" and degraded[condition.reason] then
      hs.status = "Degraded"
    else
      hs.status = "Progressing"
    end
    hs.message = message
    return hs
  end
end
hs.status = "Progressing"
hs.message = "No Ready condition yet"
return hs
