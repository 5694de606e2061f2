-- Argo CD health check for kiln.dev/MultimodalPretrainJob. Install it under the key
-- resource.customizations.health.kiln.dev_MultimodalPretrainJob of the argocd-cm ConfigMap
-- (docs/how-to/gitops.md). Argo CD runs it with the live object as `obj`.
--   Progressing  preparing data, queued or training (the stage and step in the message), or not
--                yet seen by the operator
--   Suspended    spec.suspend is true
--   Healthy      every stage succeeded
--   Degraded     failed, or stalled: a refused spec change, a refused request, or a queue that
--                does not admit the namespace (the Stalled
--                condition says which)
local hs = {}
local status = obj.status

local function condition(kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the Kiln operator"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "the Kiln operator has not yet acted on generation " .. generation
  return hs
end

local phase = status.phase
local message = status.message or ""
local stalled = condition("Stalled")
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" then
  hs.status = "Degraded"
  message = (status.reason or "Failed") .. ": " .. message
elseif phase == "Suspended" then
  hs.status = "Suspended"
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
else
  hs.status = "Progressing"
  local progress = status.progress
  if phase == "Training" and progress ~= nil and progress.step ~= nil and progress.stage == status.stage then
    message = "stage " .. progress.stage .. " step " .. progress.step
    if progress.totalSteps ~= nil then
      message = message .. "/" .. progress.totalSteps
    end
    if type(progress.loss) == "number" then
      message = message .. string.format(", loss %.4g", progress.loss)
    end
    if progress.etaSeconds ~= nil then
      message = message .. ", ETA " .. progress.etaSeconds .. "s"
    end
  end
  message = phase .. ": " .. message
end
hs.message = message
return hs
